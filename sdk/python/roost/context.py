"""Evaluation contexts: Python mappings turned into the C SDK's roost_context.

The engine's context is flat: attribute keys are ``var`` paths, where a
nested object is written with dots ("user.name" is what ``{"var":
"user.name"}`` reads) and a '.' or '\\' that belongs to a key is escaped
with '\\'. A Python mapping is flattened the same way, so a context reads
exactly as the JSON object it looks like:

    {"targetingKey": "user-42", "user": {"name": "jack", "age": 41}}
        -> targetingKey = "user-42", user.name = "jack", user.age = 41.0

Accepted values: str; bool; int and float (the engine's numbers are
doubles, so integers beyond 2**53 lose precision); nested mappings; None
(left out: an attribute that is not set reads as null, as in JSON). Anything
else (lists, tuples, bytes, datetimes...) raises TypeError naming the key:
the engine has no arrays, and guessing a conversion would make targeting
rules match differently than they do in every other SDK.

``$flagd.timestamp`` is the time the context was built (Context), or the time
of the evaluation (a mapping, or no context).
"""
from __future__ import annotations

import threading
import time
from ctypes import ArgumentError, byref, c_void_p
from typing import Any, List, Mapping, Optional

from . import _native
from .errors import LimitError, OutOfMemoryError, error_for

_fast = _native.fast
_hot = _native.hot  # no prototypes: pass pointer objects, bytes and True/False only
_set_string = _hot.roost_context_set_string
_set_number = _fast.roost_context_set_number
_set_bool = _hot.roost_context_set_bool
_clear = _hot.roost_context_clear
_stamp = _hot.roost_context_stamp
_set_timestamp = _fast.roost_context_set_timestamp
_ctx_of = _hot.roost_context_ctx

MAX_ATTRIBUTES = 4096  # roost_context's limit


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace(".", "\\.")


def _fill(ptr: c_void_p, attributes: Mapping[str, Any], prefix: str = "") -> None:
    """Sets every attribute of `attributes` on the native context at ptr.

    Written as one flat loop over the common types, checked in the order
    services use them, because a mapping passed to an evaluation is
    converted on every call.
    """
    for key, value in attributes.items():
        if key.__class__ is not str and not isinstance(key, str):
            raise TypeError("evaluation context keys must be strings; got %r" % (key,))
        if "." in key or "\\" in key:
            key = _escape(key)
        if prefix:
            key = prefix + key
        cls = value.__class__
        if cls is str:
            if "\0" in value:
                raise ValueError("evaluation context value %r contains a NUL character" % key)
            rc = _set_string(ptr, key.encode(), value.encode())
        elif cls is bool:
            rc = _set_bool(ptr, key.encode(), value)  # True/False: exact as a C bool
        elif cls is int or cls is float:
            try:
                rc = _set_number(ptr, key.encode(), value)  # the prototype makes it a double
            except ArgumentError:
                raise _too_large(key, value) from None
        elif value is None:
            continue
        elif isinstance(value, Mapping):
            _fill(ptr, value, key + ".")
            continue
        elif isinstance(value, str):
            rc = _set_string(ptr, key.encode(), str(value).encode())
        elif isinstance(value, bool):
            rc = _set_bool(ptr, key.encode(), True if value else False)
        elif isinstance(value, (int, float)):
            try:
                rc = _set_number(ptr, key.encode(), float(value))
            except OverflowError:
                raise _too_large(key, value) from None
        else:
            raise TypeError(
                "evaluation context value %r is a %s; contexts hold strings, numbers, "
                "booleans, None and nested mappings (docs/sdk-python.md, \"Contexts\")"
                % (key, type(value).__name__))
        if rc:
            _raise_set_failed(rc, key)


def _too_large(key: str, value: Any) -> ValueError:
    return ValueError("evaluation context value %r (%d) is too large for a number" % (key, value))


def _raise_set_failed(rc: int, key: str) -> None:
    if rc == 4:  # ELIMIT
        raise LimitError("evaluation context: more than %d attributes (at %r)"
                         % (MAX_ATTRIBUTES, key))
    if rc == 5:  # ENOMEM
        raise OutOfMemoryError("evaluation context: out of memory at %r" % key)
    raise error_for(rc, "evaluation context: attribute %r refused (%s)"
                    % (key, _native.strerror(rc)))


class Context:
    """An evaluation context built once and evaluated any number of times.

        ctx = roost.Context({"user": {"email": email}}, targeting_key=user_id)
        client.boolean("new-checkout", False, ctx)
        client.string("banner", "blue", ctx)

    Cheaper than passing a mapping to each evaluation (a mapping is converted
    on every call). The native copy of the attributes is owned by this object
    and freed with it. Safe to evaluate from many threads at once; changing
    it (set, update, clear, stamp) while another thread evaluates with it is
    not.

    ``$flagd.timestamp`` is the time the context was built; ``stamp()``
    moves it to now, ``timestamp=`` sets it (Unix seconds).
    """

    __slots__ = ("_ptr", "_ctx", "__weakref__")

    def __init__(self, attributes: Optional[Mapping[str, Any]] = None, *,
                 targeting_key: Optional[str] = None, timestamp: Optional[int] = None) -> None:
        handle = c_void_p()
        capacity = len(attributes) + 1 if attributes else 8
        rc = _fast.roost_context_new(min(capacity, MAX_ATTRIBUTES), 0, byref(handle))
        if rc:
            raise error_for(rc, "roost_context_new: %s" % _native.strerror(rc))
        self._ptr: Optional[c_void_p] = handle
        self._ctx: Optional[c_void_p] = None
        if attributes:
            _fill(handle, attributes)
        if targeting_key is not None:
            _fill(handle, {"targetingKey": targeting_key})
        if timestamp is None:
            _stamp(handle)
        else:
            _set_timestamp(handle, int(timestamp))
        # The engine's roost_ctx view that evaluations pass, refreshed after
        # every change (the C SDK says it is valid until the next one).
        self._ctx = _ctx_of(handle)

    def set(self, key: str, value: Any) -> "Context":
        """Sets one top-level attribute (a mapping value sets nested ones)."""
        return self.update({key: value})

    def update(self, attributes: Mapping[str, Any]) -> "Context":
        """Sets every attribute of a mapping, replacing existing values."""
        _fill(self._native(), attributes)
        self._ctx = _ctx_of(self._ptr)
        return self

    def stamp(self) -> "Context":
        """Sets $flagd.timestamp to now."""
        _stamp(self._native())
        self._ctx = _ctx_of(self._ptr)
        return self

    def set_timestamp(self, unix_seconds: int) -> "Context":
        """Sets $flagd.timestamp (seconds since the Unix epoch)."""
        _set_timestamp(self._native(), int(unix_seconds))
        self._ctx = _ctx_of(self._ptr)
        return self

    def clear(self) -> "Context":
        """Removes every attribute and the timestamp; keeps the memory."""
        _clear(self._native())
        self._ctx = _ctx_of(self._ptr)
        return self

    def _native(self) -> c_void_p:
        if self._ptr is None:
            raise ValueError("this Context was freed")
        return self._ptr

    def __del__(self) -> None:
        ptr, self._ptr = getattr(self, "_ptr", None), None
        self._ctx = None
        if ptr is not None:
            _fast.roost_context_free(ptr)

    def __repr__(self) -> str:
        return "<roost.Context at %#x>" % ((self._ptr and self._ptr.value) or 0)


class _Scratch(threading.local):
    """Per-thread native context for mappings.

    A mapping is converted into the calling thread's scratch context on each
    evaluation (cleared, stamped, filled), so no native memory is allocated
    per call and no two threads share one.
    """

    def __init__(self) -> None:
        self.ctx = Context()


_scratch = _Scratch()

# "No context": one empty context for every thread, whose $flagd.timestamp
# follows the clock to the second (all the engine reads), re-stamped when
# the second changes rather than on every call. Sharing it is safe: the
# native calls that read or stamp it all run with the GIL held (PyDLL), so
# no two of them overlap.
_empty = Context()
_empty_until = 0.0


def native_context(context: Any) -> Optional[c_void_p]:
    """The roost_ctx pointer to evaluate `context` with. (Callers test for a
    Context themselves: that is the path that must cost nothing.)"""
    global _empty_until
    if context.__class__ is dict or (context is not None and not isinstance(context, Context)
                                     and isinstance(context, Mapping)):
        ptr = _scratch.ctx._ptr
        _clear(ptr)
        _stamp(ptr)
        _fill(ptr, context)
        return _ctx_of(ptr)
    if context is None:
        now = time.time()
        if now >= _empty_until:
            _empty_until = float(int(now) + 1)
            _empty.set_timestamp(int(now))
        return _empty._ctx
    if isinstance(context, Context):
        return context._ctx
    raise TypeError("context must be a mapping, a roost.Context or None; got %s"
                    % type(context).__name__)


__all__: List[str] = ["Context"]
