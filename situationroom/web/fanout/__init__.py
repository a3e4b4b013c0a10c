"""The websocket fan-out: one reader of the update stream per web process, shared frames, bounded queues."""

from situationroom.web.fanout.client import Client
from situationroom.web.fanout.frames import Frame
from situationroom.web.fanout.hub import Fanout
from situationroom.web.fanout.topics import TopicError

__all__ = ["Client", "Fanout", "Frame", "TopicError"]
