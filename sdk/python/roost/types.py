"""The values the client hands out: enums and plain dataclasses.

Enums are ``str`` enums whose values are the names the C SDK and OpenFeature
use ("TARGETING_MATCH", "READY"...), so ``details.reason == "STATIC"`` and
logging them both read naturally.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Generic, Optional, Tuple, TypeVar

from .errors import Status


class Reason(str, enum.Enum):
    """Why a value was returned (roost_reason; OpenFeature reasons)."""

    STATIC = "STATIC"                    # no targeting: the flag's default variant
    TARGETING_MATCH = "TARGETING_MATCH"  # the targeting rule chose the variant
    DEFAULT = "DEFAULT"                  # the rule gave null: default variant or yours
    DISABLED = "DISABLED"                # the flag is disabled: your default
    ERROR = "ERROR"                      # see error_code: your default

    def __str__(self) -> str:
        return self.value


class ErrorCode(str, enum.Enum):
    """Why an evaluation failed (roost_eval_error; OpenFeature error codes)."""

    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    PARSE_ERROR = "PARSE_ERROR"
    GENERAL = "GENERAL"  # also: the client has no configuration yet

    def __str__(self) -> str:
        return self.value


class State(str, enum.Enum):
    """roost_client_state."""

    NOT_READY = "NOT_READY"  # no configuration yet: evaluations give defaults
    READY = "READY"          # connected, configuration current
    STALE = "STALE"          # serving the last configuration known while (re)connecting
    CLOSED = "CLOSED"

    def __str__(self) -> str:
        return self.value


class EventType(str, enum.Enum):
    """roost_event_type."""

    READY = "READY"
    STALE = "STALE"
    ERROR = "ERROR"
    CONFIGURATION_CHANGED = "CONFIGURATION_CHANGED"

    def __str__(self) -> str:
        return self.value


class Scope(str, enum.Enum):
    """What an outcome is attributed to (roost_scope_kind)."""

    FLAG = "flag"              # scope: flag key; arm: variant
    ROLLOUT = "rollout"        # scope: rollout name; arm: "baseline" or "canary"
    EXPERIMENT = "experiment"  # scope: experiment name; arm: variant

    def __str__(self) -> str:
        return self.value


class Arm(str, enum.Enum):
    """The arm of a canary rollout a request goes to (roost_arm)."""

    BASELINE = "baseline"
    CANARY = "canary"

    def __str__(self) -> str:
        return self.value


class RolloutPhase(str, enum.Enum):
    """roost_rollout_phase (docs/rollouts.md, Lifecycle)."""

    UNKNOWN = "unknown"  # a phase this SDK does not know (a newer roostd)
    PENDING = "pending"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"

    def __str__(self) -> str:
        return self.value


class ProbeState(str, enum.Enum):
    """roost_probe_state."""

    UNKNOWN = "unknown"  # not probed yet
    UP = "up"
    DEGRADED = "degraded"  # answering, slower than its degradedLatency
    DOWN = "down"

    def __str__(self) -> str:
        return self.value


class ProbeCircuit(str, enum.Enum):
    """roost_probe_circuit."""

    UNKNOWN = "unknown"
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"

    def __str__(self) -> str:
        return self.value


class ExperimentPhase(str, enum.Enum):
    """roost_experiment_phase."""

    UNKNOWN = "unknown"
    DRAFT = "draft"
    RUNNING = "running"  # the only phase that logs exposures and outcomes
    STOPPED = "stopped"
    CONCLUDED = "concluded"

    def __str__(self) -> str:
        return self.value


class LogLevel(enum.IntEnum):
    """roost_log_level; the C SDK's lines go to the "roost" logger."""

    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3


# Index = the C enum's value; what the C side hands back is mapped through
# these tuples (a tuple index is the cheapest lookup there is).
REASONS = (Reason.STATIC, Reason.TARGETING_MATCH, Reason.DEFAULT, Reason.DISABLED, Reason.ERROR)
ERROR_CODES = (None, ErrorCode.FLAG_NOT_FOUND, ErrorCode.TYPE_MISMATCH, ErrorCode.PARSE_ERROR,
               ErrorCode.GENERAL)
STATES = (State.NOT_READY, State.READY, State.STALE, State.CLOSED)
EVENT_TYPES = (None, EventType.READY, EventType.STALE, EventType.ERROR,
               EventType.CONFIGURATION_CHANGED)
SCOPE_KINDS = {Scope.FLAG: 1, Scope.ROLLOUT: 2, Scope.EXPERIMENT: 3}
ARMS = (Arm.BASELINE, Arm.CANARY)
ROLLOUT_PHASES = tuple(RolloutPhase)  # in C order
PROBE_STATES = tuple(ProbeState)
PROBE_CIRCUITS = tuple(ProbeCircuit)
EXPERIMENT_PHASES = tuple(ExperimentPhase)


def enum_at(values: tuple, index: int) -> Any:
    """values[index], or the first value ("unknown") for a value this
    package does not know (a newer C SDK)."""
    return values[index] if 0 <= index < len(values) else values[0]

T = TypeVar("T")


@dataclass
class EvaluationDetails(Generic[T]):
    """The result of a ``*_details`` evaluation.

    ``value`` is what the plain call would have returned; ``variant`` is the
    chosen variant's name (None when none was chosen: disabled, errors, your
    default); ``error_code`` is None unless ``reason`` is ERROR;
    ``error_message`` explains it; ``revision`` is the configuration revision
    evaluated (0 before the first one).

    (Not frozen, and without defaults so that it can have __slots__: a
    frozen dataclass takes several times longer to build, and one is built
    per evaluation.)
    """

    __slots__ = ("flag_key", "value", "variant", "reason", "error_code", "error_message",
                 "revision")

    flag_key: str
    value: T
    variant: Optional[str]
    reason: Reason
    error_code: Optional[ErrorCode]
    error_message: Optional[str]
    revision: int


@dataclass(frozen=True)
class Event:
    """One client event, delivered on the client's event thread.

    ``keys`` (flags), ``rollouts``, ``probes`` and ``experiments`` list what a
    CONFIGURATION_CHANGED event changed, sorted; empty for other events.
    ``status`` is set on ERROR events.
    """

    type: EventType
    state: State
    revision: int
    from_cache: bool = False
    message: str = ""
    status: Optional[Status] = None
    keys: Tuple[str, ...] = ()
    rollouts: Tuple[str, ...] = ()
    probes: Tuple[str, ...] = ()
    experiments: Tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteDetails:
    """What route_details() decided and why.

    ``found``: the rollout is in the configuration (when not, the request
    goes to the baseline). ``sticky``: decided by the context's targeting
    key (False: drawn at random, or nothing to decide). ``canary_weight`` is
    the canary's share of traffic in [0, 1]; ``version`` the chosen arm's
    version ("" when the rollout is not found); ``revision`` the
    configuration revision routed on.
    """

    rollout: str
    arm: Arm
    found: bool
    sticky: bool
    phase: RolloutPhase
    canary_weight: float
    version: str
    revision: int


@dataclass(frozen=True)
class RolloutStatus:
    """A rollout as the client holds it (roost_rollout_info)."""

    name: str
    phase: RolloutPhase
    canary_weight: float  # the canary's share of traffic, 0 to 1
    step: int             # index of the step it is in
    service: str
    baseline: str         # baseline version
    canary: str           # canary version
    revision: int         # the revision that last changed it


@dataclass(frozen=True)
class ProbeStatus:
    """A dependency probe's state as roostd last streamed it (roost_probe_info)."""

    name: str
    state: ProbeState
    circuit: ProbeCircuit
    latency_ms: float          # of the last probe
    consecutive_failures: int
    since_unix_ms: int         # when it entered this state
    detail: str                # the last error, "" when none


@dataclass(frozen=True)
class ExperimentStatus:
    """An experiment as the client holds it (roost_experiment_info)."""

    name: str
    phase: ExperimentPhase
    flag: str      # the flag whose variants are the arms
    unit: str      # the context attribute units are hashed on
    revision: int  # the revision that last changed it


@dataclass(frozen=True)
class Stats:
    """roost_client_stats: counters of one client."""

    state: State
    revision: int
    flags: int
    flags_rejected: int
    snapshots_received: int
    changes_received: int
    connects: int
    disconnects: int
    cache_writes: int
    observations: int
    batches_sent: int
    batches_acked: int
    batches_duplicate: int
    dropped_memory_limit: int
    dropped_series_limit: int
    dropped_rejected: int
    pending_outcomes: int
    outcome_memory: int
    snapshot_memory: int
    rollouts: int
    probes: int
    experiments: int
    experiments_running: int
    exposures: int
    exposures_dropped: int


JSONValue = Any  # what json.loads returns; object flags hand these out
