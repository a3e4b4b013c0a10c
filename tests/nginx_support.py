"""A real nginx (Debian's) running the shipped reverse-proxy config, deploy/nginx/situationroom.conf, with only its
addresses changed (situationroom.bench.proxy, which `bench ws --web-processes` uses too)."""

from __future__ import annotations

from situationroom.bench.proxy import CONF, NGINX, Nginx, templated

__all__ = ["CONF", "NGINX", "Nginx", "templated"]
