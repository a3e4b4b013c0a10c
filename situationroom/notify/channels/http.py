"""What the channels that speak HTTP share: which answers are worth trying again, and naming a receiver in a
message without its path (a webhook's path is often itself the secret)."""

from __future__ import annotations

from urllib.parse import urlsplit

RETRYABLE = {408, 425, 429}
"""4xx answers that are not the request's fault: try again later (timeout, too early, too many requests)."""


def origin(url: str) -> str:
    """Scheme and host of a URL, for messages: a webhook URL's path is often itself the secret (Slack)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
