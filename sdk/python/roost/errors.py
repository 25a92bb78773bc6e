"""Exceptions: one class per roost_status code (include/roost/status.h).

Every exception raised for a failed C call is a RoostError carrying the
status and the C SDK's message, which names what was wrong ("service label
is 70 bytes; at most 64"). Each class also derives from the built-in
exception a Python programmer would reach for (InvalidArgumentError is a
ValueError, UnavailableError a ConnectionError, DeadlineExceededError a
TimeoutError...), so ``except ValueError`` keeps working.

Evaluation never raises for anything the server or the network does: it
returns the caller's default and says why in the details. Exceptions are for
programming errors (a default of the wrong type, a context value that cannot
be represented) and for lifecycle calls (creating, flushing, closing).
"""
from __future__ import annotations

import enum
from typing import Dict, Type


class Status(enum.IntEnum):
    """roost_status: what a C call returned."""

    OK = 0
    EINVAL = 1
    ENOTFOUND = 2
    ETYPE = 3
    ELIMIT = 4
    ENOMEM = 5
    EIO = 6
    ECORRUPT = 7
    EUNAVAIL = 8
    EAUTH = 9
    ECONFLICT = 10
    ETIMEOUT = 11
    EINTERNAL = 12


class RoostError(Exception):
    """A C SDK call failed. ``status`` says how, ``message`` says what."""

    status: Status = Status.EINTERNAL

    # One argument only: several bases are OSError subclasses, whose
    # constructor reads a second argument as a strerror.
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(RoostError, ValueError):
    """EINVAL: an argument or option is not valid (the message names it)."""

    status = Status.EINVAL


class NotFoundError(RoostError, LookupError):
    """ENOTFOUND: the named rollout, probe, experiment or file does not exist."""

    status = Status.ENOTFOUND


class WrongTypeError(RoostError, TypeError):
    """ETYPE: a value has a different type than the one asked for."""

    status = Status.ETYPE


class LimitError(RoostError):
    """ELIMIT: a fixed or configured limit would be exceeded."""

    status = Status.ELIMIT


class OutOfMemoryError(RoostError, MemoryError):
    """ENOMEM: the C SDK could not allocate memory."""

    status = Status.ENOMEM


class StorageError(RoostError, OSError):
    """EIO: a file (the offline cache) could not be read or written."""

    status = Status.EIO


class CorruptDataError(RoostError):
    """ECORRUPT: stored or received data failed a format or checksum check."""

    status = Status.ECORRUPT


class UnavailableError(RoostError, ConnectionError):
    """EUNAVAIL: roostd cannot be reached, or there is no configuration yet."""

    status = Status.EUNAVAIL


class AuthenticationError(RoostError, PermissionError):
    """EAUTH: the SDK token is missing or wrong."""

    status = Status.EAUTH


class ConflictError(RoostError):
    """ECONFLICT: the request conflicts with the current state."""

    status = Status.ECONFLICT


class DeadlineExceededError(RoostError, TimeoutError):
    """ETIMEOUT: a deadline passed before the operation finished."""

    status = Status.ETIMEOUT


class InternalError(RoostError):
    """EINTERNAL: a bug in the SDK (an invariant did not hold); please report it."""

    status = Status.EINTERNAL


class ClientClosedError(RoostError):
    """A lifecycle call on a client that was already closed."""

    status = Status.EINVAL


_BY_STATUS: Dict[int, Type[RoostError]] = {
    cls.status: cls
    for cls in (InvalidArgumentError, NotFoundError, WrongTypeError, LimitError,
                OutOfMemoryError, StorageError, CorruptDataError, UnavailableError,
                AuthenticationError, ConflictError, DeadlineExceededError, InternalError)
}


def error_for(code: int, message: str) -> RoostError:
    """The exception for a non-zero roost_status, with message."""
    cls = _BY_STATUS.get(code)
    if cls is not None:
        return cls(message)
    error = RoostError("%s (unknown status %d)" % (message, code))
    error.status = Status.EINTERNAL
    return error
