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

A mapping is converted on every evaluation, so that conversion is the part
written for speed: the attributes are packed into one buffer (three
NUL-separated fields per attribute: type, key, value) and handed to the C
SDK in one call, roost_context_load, instead of one call per attribute; a
ctypes call costs more than the C work it does. Anything the packed form
does not cover (a NUL in a key or value, an int beyond 2**53, a subclass of
str, a value that is refused) takes the per-attribute path, which is also
where every error message comes from, so both paths accept and refuse
exactly the same contexts. Conversions are not cached: a dict may change
between two evaluations without any way to notice.
"""
from __future__ import annotations

import threading
import time
from ctypes import ArgumentError, byref, c_void_p
from typing import Any, List, Mapping, Optional, Set

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
# roost_context_load(context *, data, size_t len, size_t records), without a
# prototype: len and records are Python ints below 2**20, passed as C ints
# (see _native).
_load = _hot.roost_context_load

MAX_ATTRIBUTES = 4096  # roost_context's limit
# Numbers packed as decimal integers must convert to a double exactly.
_EXACT_INT = 2 ** 53
# roost_context_load refuses longer buffers (ROOST_CONTEXT_PACKED_MAX); the
# per-attribute path has no such limit.
_PACKED_MAX = 1 << 20
# Attribute names known to need no escaping ('.', '\\'), so that packing
# looks each up once instead of scanning it twice. Bounded: names beyond
# these are checked every time.
_plain_keys: Set[str] = set()
_PLAIN_KEYS_MAX = 10000


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


def _pack(attributes: Mapping[str, Any], parts: List[str], prefix: str = "") -> bool:
    """Appends the packed fields of every attribute (roost_context_load's
    format, include/roost/client.h) to parts. False when some attribute
    needs the per-attribute path (_fill), which then converts or refuses
    the whole mapping with its own messages.

    Keys seen before are looked up in _plain_keys instead of being checked
    for characters to escape: services use a handful of attribute names."""
    for key, value in attributes.items():
        if key not in _plain_keys:
            if key.__class__ is not str:
                return False
            if "." in key or "\\" in key:
                key = _escape(key)
            elif len(_plain_keys) < _PLAIN_KEYS_MAX:
                _plain_keys.add(key)  # a NUL in it is caught by the record count
        if prefix:
            key = prefix + key
        cls = value.__class__
        if cls is str:
            parts += ("s", key, value)
        elif cls is bool:
            parts += ("b", key, "1" if value else "0")
        elif cls is int:
            if not -_EXACT_INT <= value <= _EXACT_INT:
                return False
            parts += ("n", key, str(value))
        elif cls is float:
            parts += ("n", key, value.hex())  # exact, unlike a decimal text
        elif value is None:
            continue
        elif cls is dict or isinstance(value, Mapping):
            if not _pack(value, parts, key + "."):
                return False
        else:
            return False
    return True


def _load_packed(ptr: c_void_p, parts: List[str]) -> bool:
    """Replaces the native context's attributes with the packed fields in
    parts and stamps it, in one C call. False, with the context left as it
    was or empty, when the per-attribute path must do it: roost_context_load
    refuses the buffer when a key or value holds a NUL (the record count no
    longer matches) or it is too long. (native_context has its own copy of
    this, inline.)"""
    records = len(parts) // 3
    parts.append("")  # the last value's NUL
    try:
        data = "\0".join(parts).encode()
    except (TypeError, UnicodeEncodeError):  # a key that only compares equal
        return False                         # to a str; a lone surrogate
    n = len(data)
    return n <= _PACKED_MAX and not _load(ptr, data, n, records)


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
        # One C call for the whole mapping (it also stamps); the
        # per-attribute path when it cannot take it.
        packed = False
        if attributes and (targeting_key is None or targeting_key.__class__ is str):
            parts: List[str] = []
            if _pack(attributes, parts):
                if targeting_key is not None:
                    parts += ("s", "targetingKey", targeting_key)
                packed = _load_packed(handle, parts)
        if not packed:
            if attributes:
                _fill(handle, attributes)
            if targeting_key is not None:
                _fill(handle, {"targetingKey": targeting_key})
            _stamp(handle)
        if timestamp is not None:
            _set_timestamp(handle, int(timestamp))
        # The engine's roost_ctx view that evaluations pass (the C SDK keeps
        # it at one address for the context's life; the setters below
        # refresh it all the same).
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
    per call once it has grown to the thread's contexts, and no two threads
    share one.
    """

    def __init__(self) -> None:
        self.ctx = Context()
        # The native context and its roost_ctx view, which the C SDK keeps
        # at the same address for the context's life: one thread-local
        # lookup per evaluation gets both.
        self.load = (self.ctx._ptr, self.ctx._ctx)


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
    Context themselves: that is the path that must cost nothing.)

    A mapping is packed and loaded in one C call. The top level of _pack and
    _load_packed is written out here: a Python call costs about 50 ns, and
    this runs on every evaluation with a dict."""
    global _empty_until
    if context.__class__ is dict or (context is not None and not isinstance(context, Context)
                                     and isinstance(context, Mapping)):
        parts: List[str] = []
        for key, value in context.items():
            if key not in _plain_keys:
                if key.__class__ is not str:
                    break
                if "." in key or "\\" in key:
                    key = _escape(key)
                elif len(_plain_keys) < _PLAIN_KEYS_MAX:
                    _plain_keys.add(key)
            cls = value.__class__
            if cls is str:
                parts += ("s", key, value)
            elif cls is bool:
                parts += ("b", key, "1" if value else "0")
            elif cls is int:
                if not -_EXACT_INT <= value <= _EXACT_INT:
                    break
                parts += ("n", key, str(value))
            elif cls is float:
                parts += ("n", key, value.hex())
            elif value is None:
                continue
            elif cls is dict or isinstance(value, Mapping):
                if not _pack(value, parts, key + "."):
                    break
            else:
                break
        else:
            records = len(parts) // 3
            parts.append("")
            try:
                data = "\0".join(parts).encode()
            except (TypeError, UnicodeEncodeError):
                pass
            else:
                n = len(data)
                ptr, ctx = _scratch.load
                if n <= _PACKED_MAX and not _load(ptr, data, n, records):
                    return ctx
        # The per-attribute path: what the packed form cannot carry, and
        # every error message.
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
