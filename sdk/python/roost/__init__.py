"""Roost's Python SDK: feature flags, canary routing and outcome reporting,
evaluated in-process by the C SDK (libroost.so) through ctypes.

    import roost

    with roost.Client("127.0.0.1:7070", labels={"service": "checkout"}) as client:
        client.wait_ready(2.0)
        on = client.boolean("new-checkout", False, {"targetingKey": "user-42"})

docs/sdk-python.md is the guide. Importing this package loads libroost.so
(from $ROOST_LIBRARY, next to the package, or the repository's bazel-bin);
when it cannot be found, the ImportError says how to build it.
"""
from ._native import path as library_path
from .client import Client, Request, Series
from .context import Context
from .errors import (
    AuthenticationError,
    ClientClosedError,
    ConflictError,
    CorruptDataError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    LimitError,
    NotFoundError,
    OutOfMemoryError,
    RoostError,
    Status,
    StorageError,
    UnavailableError,
    WrongTypeError,
)
from .types import (
    Arm,
    ErrorCode,
    EvaluationDetails,
    Event,
    EventType,
    ExperimentPhase,
    ExperimentStatus,
    LogLevel,
    ProbeCircuit,
    ProbeState,
    ProbeStatus,
    Reason,
    RolloutPhase,
    RolloutStatus,
    RouteDetails,
    Scope,
    State,
    Stats,
)

__version__ = "0.1.0"

__all__ = [
    "Arm",
    "AuthenticationError",
    "Client",
    "ClientClosedError",
    "ConflictError",
    "Context",
    "CorruptDataError",
    "DeadlineExceededError",
    "ErrorCode",
    "EvaluationDetails",
    "Event",
    "EventType",
    "ExperimentPhase",
    "ExperimentStatus",
    "InternalError",
    "InvalidArgumentError",
    "LimitError",
    "LogLevel",
    "NotFoundError",
    "OutOfMemoryError",
    "ProbeCircuit",
    "ProbeState",
    "ProbeStatus",
    "Reason",
    "Request",
    "RoostError",
    "RolloutPhase",
    "RolloutStatus",
    "RouteDetails",
    "Scope",
    "Series",
    "State",
    "Stats",
    "Status",
    "StorageError",
    "UnavailableError",
    "WrongTypeError",
    "library_path",
]
