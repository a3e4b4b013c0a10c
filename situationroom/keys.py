"""Every Redis key name situationroom uses, in one place (see docs/streams.md).

Keys of one indicator share the hash tag `{i:<indicator>}`, so the aggregator's script that updates
all of an indicator's series touches a single Redis Cluster slot. Sample streams are tagged by
partition, the update stream and the small shared keys by their own names.
"""

from __future__ import annotations

import zlib

PREFIX = "sr"

# Consumer group of the aggregators on every sample stream.
AGGREGATOR_GROUP = "aggregators"
# Consumer group of the history role on every sample stream: it sees every sample, whatever the aggregators do.
HISTORY_GROUP = "historians"


def partition_of(indicator: str, partitions: int) -> int:
    return zlib.crc32(indicator.encode()) % partitions


def samples(partition: int) -> str:
    """Sample stream of one partition: fields i, e, t, v, s[, n][, x]."""
    return f"{PREFIX}:samples:{{p{partition}}}"


def all_samples(partitions: int) -> list[str]:
    return [samples(p) for p in range(partitions)]


def updates() -> str:
    """Stream of every change of live state, read by dashboards and alerting."""
    return f"{PREFIX}:{{updates}}"


def recent_messages() -> str:
    """List of the newest text messages (JSON), newest first, for a wall's snapshot."""
    return f"{PREFIX}:{{updates}}:messages"


def message_ids() -> str:
    """Sorted set of message ids already published (score = ms), so each is published once."""
    return f"{PREFIX}:{{updates}}:message-ids"


def deadletter() -> str:
    """Rejected samples with the reason."""
    return f"{PREFIX}:{{deadletter}}"


# --------------------------------------------------------------------- alerts (docs/alerts.md)
# The alert role's keys share the tag {alerts}: one MULTI writes an alert's state and history together, with the
# hand-over record of what goes to the other slots ({notify}, {updates}) after it.

# Consumer group of the alert role on the update stream.
ALERT_GROUP = "alerters"


def alerts() -> str:
    """Hash fingerprint -> JSON of the alert's current episode (pending, firing, or resolved until pruned)."""
    return f"{PREFIX}:{{alerts}}:state"


def alert_history(fingerprint: str) -> str:
    """List (newest first) of the changes of one alert: pending, firing, severity, acknowledged, resolved..."""
    return f"{PREFIX}:{{alerts}}:history:{fingerprint}"


def alert_acks() -> str:
    """Hash fingerprint -> JSON {by, at, comment, episode}: written by the API, read by the alert role."""
    return f"{PREFIX}:{{alerts}}:acks"


def silences() -> str:
    """Hash silence id -> JSON {matchers, starts, ends | cron + duration + until, reason, by}."""
    return f"{PREFIX}:{{alerts}}:silences"


def alert_outbox() -> str:
    """Hash group-queue id -> JSON of a notification waiting for its group's wait to end."""
    return f"{PREFIX}:{{alerts}}:outbox"


def alert_handover() -> str:
    """Hash commit token -> JSON {n: notifications, a: alerts to announce, ids: update entries to acknowledge}: what
    a committed batch still has to hand to `sr:{notify}` and `sr:{updates}`; deleted once that is done."""
    return f"{PREFIX}:{{alerts}}:handover"


def alert_rules() -> str:
    """Hash rule id -> JSON of the rule the alert role runs (and `_errors`: the files it could not load)."""
    return f"{PREFIX}:{{alerts}}:rules"


def alert_lock() -> str:
    """Short lock held by the active alert role; a second one waits as a standby."""
    return f"{PREFIX}:{{alerts}}:lock"


def _series(indicator: str, exercise: bool) -> str:
    # Exercise series live beside the real ones under the same hash tag (one slot per indicator), so a
    # drill never overwrites, windows or archives real data (docs/exercise.md).
    return f"{PREFIX}:{{i:{indicator}}}:x" if exercise else f"{PREFIX}:{{i:{indicator}}}"


def live(indicator: str, exercise: bool = False) -> str:
    """Hash entity -> compact JSON of the series' live state (value, ts, status, windows)."""
    return f"{_series(indicator, exercise)}:live"


def due(indicator: str, exercise: bool = False) -> str:
    """Sorted set entity -> epoch ms at which the series turns stale without a new sample."""
    return f"{_series(indicator, exercise)}:due"


def raw(indicator: str, entity: str, exercise: bool = False) -> str:
    """Sorted set of the last hour of samples (score = event ms, member = "ms:value")."""
    return f"{_series(indicator, exercise)}:raw:{entity}"


def history(indicator: str, entity: str, resolution: str = "1m", exercise: bool = False) -> str:
    """Sorted set of buckets (score = bucket start s, member = "start:count:sum:min:max:last_ms:last"): "1m", the
    1-minute buckets of the last hours (older: the history store), and "1s", the 1-second buckets of the last hour
    that the live windows read their partial first minute from (lua/apply.lua)."""
    return f"{_series(indicator, exercise)}:h{resolution}:{entity}"


def retired_hourly(indicator: str, entity: str, exercise: bool = False) -> str:
    """Sorted set of 1-hour buckets that earlier versions kept; no longer written, deleted at the aggregator's start."""
    return f"{_series(indicator, exercise)}:h1h:{entity}"


def collector_health(collector: str) -> str:
    return f"{PREFIX}:collector:{collector}"


def collectors_index() -> str:
    """Set of collector ids that have reported health."""
    return f"{PREFIX}:collectors"


def collector_control(collector: str) -> str:
    """Hash of operator controls of a collector: `paused` (1), `run_now` (epoch seconds; the collect
    role runs it at once and deletes the field)."""
    return f"{PREFIX}:collector:{collector}:control"


def tokens() -> str:
    """Hash sha256(token) -> JSON {name, role, created[, staff]}."""
    return f"{PREFIX}:tokens"


# --------------------------------------------------------------------- access and its record (docs/access.md)

def audit() -> str:
    """Capped stream of every change made through the product: fields at, actor, role, staff, action, target,
    address, detail (JSON). Only ever appended to (XADD MAXLEN ~)."""
    return f"{PREFIX}:{{audit}}"


def session(digest: str) -> str:
    """String: JSON of one signed-in browser session {token (the token's hash), csrf, created, address};
    the key is sha256 of the cookie's value and expires when the session does."""
    return f"{PREFIX}:session:{digest}"


AUTH_FAILURES_PREFIX = f"{PREFIX}:auth-failures"
"""Prefix of the keys failed token checks are counted under, one per client address (web.lockout)."""


def auth_failures(address: str) -> str:
    """String: failed token checks from `address` in its current window; expires when the window ends."""
    return f"{AUTH_FAILURES_PREFIX}:{address}"


def web_instances() -> str:
    """Sorted set "host pid url" -> epoch ms of its last heartbeat: the web roles using this Redis now."""
    return f"{PREFIX}:web:instances"


def counters() -> str:
    """Hash of monotonically increasing counters for /metrics."""
    return f"{PREFIX}:counters"


def stale_lock() -> str:
    """Short lock so one aggregator at a time sweeps for stale series."""
    return f"{PREFIX}:lock:stale-sweep"


def history_flushed() -> str:
    """Epoch seconds of the last time a historian wrote its buffer to the history store."""
    return f"{PREFIX}:history:flushed"


def meta() -> str:
    """Hash with the schema version and site of the data in this Redis."""
    return f"{PREFIX}:meta"


# --------------------------------------------------------------------- notifications (docs/alerts.md)

# Consumer group of the notify role on the notifications stream.
NOTIFY_GROUP = "notifiers"


def notifications() -> str:
    """Stream the alert role writes one entry per notification to (field n, JSON); the notify role reads it."""
    return f"{PREFIX}:{{notify}}"


def notify_handed() -> str:
    """Sorted set notification key -> epoch ms it was added to the notifications stream, so a hand-over finished
    again after a crash adds it once."""
    return f"{PREFIX}:{{notify}}:handed"


def notify_deadletter() -> str:
    """Deliveries that failed their last attempt, with the reason."""
    return f"{PREFIX}:{{notify}}:deadletter"


def notify_retry() -> str:
    """Sorted set delivery key -> epoch ms when its next attempt is due (also a lease while one runs)."""
    return f"{PREFIX}:{{notify}}:retry"


def notify_jobs() -> str:
    """Hash delivery key -> JSON of a delivery waiting for its next attempt (notification, recipient, channel)."""
    return f"{PREFIX}:{{notify}}:jobs"


def notify_done() -> str:
    """Sorted set delivery key -> epoch ms it was finished (sent or dead), so it is never sent again."""
    return f"{PREFIX}:{{notify}}:done"


def alert_deliveries(fingerprint: str) -> str:
    """List (newest first) of delivery events of one alert (or of `incident:<id>`, `briefing:<id>`): sent, retrying,
    dead, quiet, skipped."""
    return f"{PREFIX}:alert:{fingerprint}:deliveries"


def inbox(recipient: str) -> str:
    """Stream of in-app notifications of one staff member or department (field n, JSON)."""
    return f"{PREFIX}:inbox:{recipient}"


def subscriptions() -> str:
    """Hash subscription id -> JSON, managed through the API (seeded from seeds/subscriptions.yaml)."""
    return f"{PREFIX}:subscriptions"


def subscriptions_seeded() -> str:
    """Set once the seed subscriptions were loaded, so deleting them all does not bring them back."""
    return f"{PREFIX}:subscriptions:seeded"


# --------------------------------------------------------------------- drills (docs/exercise.md)

def drill() -> str:
    """String: the id of the drill running now (absent when none); set with NX, so one runs at a time."""
    return f"{PREFIX}:drill"


def drills() -> str:
    """Hash drill id -> JSON of the drill (scenario, speed, who started and stopped it, when, its report)."""
    return f"{PREFIX}:drills"


# --------------------------------------------------------------------- incidents (docs/incidents.md)
# An incident's records share the tag {incidents}: a declaration writes the incident, the open index and the first
# timeline entry in one MULTI.

# Consumer group of the incidents follower on the update stream and on the audit stream.
INCIDENT_GROUP = "incidents"


def incidents() -> str:
    """Hash incident id -> JSON of the incident (open or closed; closed ones stay readable)."""
    return f"{PREFIX}:{{incidents}}:all"


def incidents_open() -> str:
    """Hash "<hazard>|<area>|<r or x>" -> id of the open incident there: one open incident per hazard, area and kind
    (real or exercise), claimed with HSETNX."""
    return f"{PREFIX}:{{incidents}}:open"


def incident_seq() -> str:
    """Counter of incidents declared, the number in each new incident's id."""
    return f"{PREFIX}:{{incidents}}:seq"


def incident_timeline(incident: str) -> str:
    """Stream of one incident's timeline, oldest first (field e, JSON); never trimmed, so it outlives what it cites."""
    return f"{PREFIX}:{{incidents}}:timeline:{incident}"


def incident_seen(incident: str) -> str:
    """Hash alert fingerprint -> what the incident's timeline last said of the alert (episode, state, level, tier,
    acknowledged by, muted by), so each change is recorded once."""
    return f"{PREFIX}:{{incidents}}:seen:{incident}"


def incident_recorded() -> str:
    """Sorted set "u:<update id>" / "a:<audit id>" -> epoch ms: the stream entries the follower recorded something of
    in a timeline, so one it read again after a crash (still pending, not acknowledged) is not recorded twice."""
    return f"{PREFIX}:{{incidents}}:recorded"


def briefings() -> str:
    """Sorted set of made briefings: member the briefing's id, score when it was made (epoch ms)."""
    return f"{PREFIX}:{{briefings}}:index"


def briefing_records() -> str:
    """Hash briefing id -> JSON of its record and content (the archive's files hold its PDF and HTML)."""
    return f"{PREFIX}:{{briefings}}:records"


def briefing_claim(name: str, at_ms: int) -> str:
    """Claimed (SET NX) by the one process that makes the scheduled briefing `name` due at `at_ms`."""
    return f"{PREFIX}:{{briefings}}:claim:{name}:{at_ms}"
