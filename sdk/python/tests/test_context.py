"""Contexts: a mapping packed into one roost_context_load call builds exactly
the native context the per-attribute path builds, the packed path is the one
common mappings take, and whatever it cannot carry goes the per-attribute
way with the same result or the same error. No roostd needed: the native
contexts are read back through ctypes."""
from __future__ import annotations

import ctypes
import math
import random
import struct
from ctypes import POINTER, Structure, c_double, c_int64, c_uint8, c_uint32, c_void_p
from typing import Any, Dict, List, Mapping, Tuple

import pytest

import roost
from roost import _native
from roost import context as rc


class _Attr(Structure):
    """roost_ctx_attr (include/roost/engine.h)"""
    _fields_ = [("key", c_void_p), ("str", c_void_p), ("num", c_double),
                ("key_len", c_uint32), ("str_len", c_uint32), ("hash", c_uint32),
                ("type", c_uint8)]


class _Ctx(Structure):
    """roost_ctx"""
    _fields_ = [("attrs", POINTER(_Attr)), ("capacity", c_uint32), ("count", c_uint32),
                ("timestamp", c_int64)]


def _string_type() -> int:
    """The engine's tag of a string attribute (engine.h keeps its tags)."""
    ctx = rc.Context({"k": "v"})
    return int(ctypes.cast(ctx._ctx, POINTER(_Ctx)).contents.attrs[0].type)


STRING = _string_type()


def _attributes(ctx_ptr: Any) -> List[Tuple[bytes, int, Any]]:
    """(key, type, value) of every attribute, in order; numbers as their
    bits, so that -0.0 and 0.0 differ, and NaNs as "nan"."""
    ctx = ctypes.cast(ctx_ptr, POINTER(_Ctx)).contents
    out = []
    for i in range(ctx.count):
        a = ctx.attrs[i]
        key = ctypes.string_at(a.key, a.key_len)
        if a.type == STRING:
            value: Any = ctypes.string_at(a.str, a.str_len)
        elif math.isnan(a.num):
            value = "nan"  # a NaN's sign and payload mean nothing to the engine
        else:
            value = struct.pack("<d", a.num)
        out.append((key, int(a.type), value))
    return out


def _new() -> Tuple[c_void_p, Any]:
    handle = c_void_p()
    assert _native.fast.roost_context_new(8, 0, ctypes.byref(handle)) == 0
    return handle, rc._ctx_of(handle)


def _load(handle: c_void_p, mapping: Mapping[str, Any]) -> bool:
    """The packed path alone: True when it took the mapping."""
    parts: List[str] = []
    return rc._pack(mapping, parts) and rc._load_packed(handle, parts)


def _both(mapping: Mapping[str, Any]) -> Tuple[bool, List[Any], List[Any]]:
    """(packed path taken, its attributes, the per-attribute path's)."""
    packed, packed_ctx = _new()
    filled, filled_ctx = _new()
    try:
        took = _load(packed, mapping)
        rc._fill(filled, mapping)
        return took, _attributes(packed_ctx), _attributes(filled_ctx)
    finally:
        _native.fast.roost_context_free(packed)
        _native.fast.roost_context_free(filled)


def test_common_mappings_take_the_packed_path_and_build_the_same_context() -> None:
    cases: List[Dict[str, Any]] = [
        {},
        {"targetingKey": "user-12345", "email": "someone@mail.test"},
        {"user": {"plan": "pro", "id": 5, "tags": {"a.b": True, "c\\d": False}},
         "age": 30, "beta": True, "ignored": None, "ratio": 0.1},
        {"a.b": 1, "a": {"b": 2}},                   # escaped key and nested path differ
        {"unicode": "zürich ☃ 𝄞", "ключ": "значение"},
        {"empty": "", "": "empty key"},
        {"long": "x" * 5000},
        {"big": 2 ** 53, "small": -(2 ** 53), "zero": 0, "neg": -1},
        {"inf": math.inf, "-inf": -math.inf, "nzero": -0.0, "tiny": 5e-324,
         "max": 1.7976931348623157e308, "third": 1 / 3},
    ]
    for mapping in cases:
        took, packed, filled = _both(mapping)
        assert took, mapping
        assert packed == filled, mapping


def test_random_floats_and_integers_convert_exactly() -> None:
    rng = random.Random(7)
    mapping: Dict[str, Any] = {}
    for i in range(2000):
        bits = rng.getrandbits(64)
        mapping["f%d" % i] = struct.unpack("<d", struct.pack("<Q", bits))[0]
        mapping["i%d" % i] = rng.randint(-(2 ** 53), 2 ** 53)
    took, packed, filled = _both(mapping)
    assert took and packed == filled


def test_nan_is_packed_as_nan() -> None:
    handle, ctx = _new()
    try:
        assert _load(handle, {"x": math.nan})
        assert _attributes(ctx)[0][2] == "nan"
    finally:
        _native.fast.roost_context_free(handle)


class _Str(str):
    pass


def test_what_the_packed_form_cannot_carry_goes_the_per_attribute_way() -> None:
    for mapping in (
        {"huge": 2 ** 53 + 1},          # beyond exact decimal: converted by float()
        {"nul-in-key\0": "v"},           # the per-attribute path's own handling
        {"sub": _Str("a str subclass")},
        {"huge": "y" * (1 << 20)},       # over ROOST_CONTEXT_PACKED_MAX
    ):
        took, packed, filled = _both(mapping)
        assert not took, mapping
    # Their results through the public API are the per-attribute path's.
    for mapping in ({"huge": 2 ** 53 + 1}, {"sub": _Str("a str subclass")}):
        native = rc.native_context(mapping)
        filled, filled_ctx = _new()
        try:
            rc._fill(filled, mapping)
            assert _attributes(native) == _attributes(filled_ctx)
        finally:
            _native.fast.roost_context_free(filled)


def test_refused_values_keep_their_messages() -> None:
    with pytest.raises(ValueError, match="contains a NUL character"):
        rc.native_context({"k": "a\0b"})
    with pytest.raises(TypeError, match="'tags' is a list"):
        rc.native_context({"tags": ["a"]})
    with pytest.raises(ValueError, match="too large"):
        rc.native_context({"n": 10 ** 400})
    with pytest.raises(UnicodeEncodeError):
        rc.native_context({"k": "\ud800"})
    with pytest.raises(TypeError, match="keys must be strings"):
        roost.Context({"user": {1: "a"}})


def test_a_context_object_packs_its_targeting_key_last() -> None:
    ctx = roost.Context({"targetingKey": "from-the-dict", "plan": "pro"},
                        targeting_key="from-the-argument", timestamp=1234)
    attrs = dict((k, v) for k, _, v in _attributes(ctx._ctx))
    assert attrs[b"targetingKey"] == b"from-the-argument"
    assert attrs[b"plan"] == b"pro"
    assert ctypes.cast(ctx._ctx, POINTER(_Ctx)).contents.timestamp == 1234


def test_a_dict_evaluation_is_stamped_now() -> None:
    import time
    before = int(time.time())
    native = rc.native_context({"k": "v"})
    stamp = ctypes.cast(native, POINTER(_Ctx)).contents.timestamp
    assert before <= stamp <= int(time.time())
