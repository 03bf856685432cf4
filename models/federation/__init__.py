"""The federation layer: what algorithms see of the other party.

- :mod:`.messages`: typed cross-party messages (frozen dataclasses, one protobuf message each).
- :mod:`.peer`: :class:`PassivePeer`, the active party's typed view of the platform.
- :mod:`.party`: :class:`PassiveParty`, the platform-side handler base class.
- :mod:`.manager`: :class:`SessionManager`, sessions, idle timeout and the step cache.
- :mod:`.inprocess`: :class:`InProcessPeer`, direct calls (optionally through a codec).
- :mod:`.recording`: :class:`RecordingPeer`, a transcript of everything that crossed.

The gRPC implementation of :class:`PassivePeer` lives in ``bank_node/federation_client.py``;
nothing here imports grpc or protobuf.
"""

from models.federation.messages import WireMessage, message_type, registered_messages
from models.federation.party import Caller, PassiveContext, PassiveParty, handles
from models.federation.peer import PassivePeer
from models.federation.session import SessionInfo, SessionSpec

__all__ = [
    "Caller",
    "PassiveContext",
    "PassiveParty",
    "PassivePeer",
    "SessionInfo",
    "SessionSpec",
    "WireMessage",
    "handles",
    "message_type",
    "registered_messages",
]
