"""Pure, event-time detectors of rented, lent and sold accounts. No Kafka, Faust, network or clock.

The worker (``stream/``) and the replay tool call exactly this interface; see ``engine`` for how the
pieces chain together and ``typologies`` for why the result does not depend on arrival order.
"""

from detectors.account_state import AccountState
from detectors.config import ConfigError, DetectorConfig, load_config
from detectors.engine import AccountOutcome, Engine, EngineStats, apply_account
from detectors.identifiers import IdentifierOutcome, IdentifierState, apply_identifier
from detectors.messages import (
    AccountChangeView,
    AccountMessage,
    CrossHit,
    DispositionView,
    FlowToken,
    IdentifierMessage,
    PaymentView,
    decode_message,
    encode_message,
)
from detectors.routing import route_disposition, route_event

__all__ = [
    "AccountChangeView",
    "AccountMessage",
    "AccountOutcome",
    "AccountState",
    "ConfigError",
    "DetectorConfig",
    "Engine",
    "EngineStats",
    "CrossHit",
    "DispositionView",
    "FlowToken",
    "IdentifierMessage",
    "IdentifierOutcome",
    "IdentifierState",
    "PaymentView",
    "apply_account",
    "apply_identifier",
    "decode_message",
    "encode_message",
    "load_config",
    "route_disposition",
    "route_event",
]
