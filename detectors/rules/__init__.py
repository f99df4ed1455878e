"""The indicators: one small class per rule, each with its own validated config section."""

from detectors.rules.base import HIGH, NORMAL, Finding, Rule
from detectors.rules.control_change import ControlChangeOutflow, ControlChangeOutflowConfig
from detectors.rules.dormant import DormantReactivation, DormantReactivationConfig
from detectors.rules.fan import FanIn, FanInConfig, FanOut, FanOutConfig
from detectors.rules.gather_scatter import GatherScatter, GatherScatterConfig
from detectors.rules.new_account import NewAccountHeavyUse, NewAccountHeavyUseConfig
from detectors.rules.new_beneficiary import NewBeneficiaryPaid, NewBeneficiaryPaidConfig
from detectors.rules.pass_through import PassThrough, PassThroughConfig
from detectors.rules.repeated import RepeatedPassThrough, RepeatedPassThroughConfig
from detectors.rules.remote_access import RemoteAccess, RemoteAccessConfig
from detectors.rules.shared_identifier import SharedDevice, SharedIdentifierConfig, SharedPhone
from detectors.rules.similar_amounts import SimilarAmounts, SimilarAmountsConfig
from detectors.rules.slow_fan import SlowFanConfig, SlowFanIn, SlowFanOut
from detectors.rules.structuring import Structuring, StructuringConfig
from detectors.rules.volume_spike import VolumeSpike, VolumeSpikeConfig

#: Rules evaluated on an account's own payments, in evaluation order.
PAYMENT_RULES: tuple[type[Rule], ...] = (
    PassThrough,
    FanIn,
    FanOut,
    DormantReactivation,
    NewAccountHeavyUse,
    ControlChangeOutflow,
    RemoteAccess,
    NewBeneficiaryPaid,
    SimilarAmounts,
    VolumeSpike,
    Structuring,
    SlowFanIn,
    SlowFanOut,
)
IDENTIFIER_RULES = (SharedDevice, SharedPhone)
#: Verdicts of money tracing across accounts (``detectors.network``).
NETWORK_RULE_IDS: tuple[str, ...] = ("chain", "chain_up", "cycle", "scatter_gather", "collect", "collect_up")
#: Hits from analysts' decisions on other accounts (``detectors.dispositions``).
DISPOSITION_RULE_IDS: tuple[str, ...] = ("confirmed_counterparty",)
RULE_IDS: tuple[str, ...] = (
    *(r.rule_id for r in PAYMENT_RULES),
    GatherScatter.rule_id,
    RepeatedPassThrough.rule_id,
    *(r.rule_id for r in IDENTIFIER_RULES),
    *NETWORK_RULE_IDS,
    *DISPOSITION_RULE_IDS,
)

__all__ = [
    "HIGH", "NORMAL", "Finding", "Rule", "PAYMENT_RULES", "IDENTIFIER_RULES", "NETWORK_RULE_IDS", "DISPOSITION_RULE_IDS",
    "RULE_IDS",
    "ControlChangeOutflow", "ControlChangeOutflowConfig", "DormantReactivation", "DormantReactivationConfig",
    "FanIn", "FanInConfig", "FanOut", "FanOutConfig", "GatherScatter", "GatherScatterConfig",
    "RepeatedPassThrough", "RepeatedPassThroughConfig",
    "NewAccountHeavyUse", "NewAccountHeavyUseConfig", "NewBeneficiaryPaid", "NewBeneficiaryPaidConfig",
    "PassThrough", "PassThroughConfig", "RemoteAccess", "RemoteAccessConfig", "SharedDevice",
    "SharedIdentifierConfig", "SharedPhone", "SimilarAmounts", "SimilarAmountsConfig", "SlowFanConfig",
    "SlowFanIn", "SlowFanOut", "Structuring",
    "StructuringConfig", "VolumeSpike", "VolumeSpikeConfig",
]
