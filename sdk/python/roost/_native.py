"""Finding, loading and declaring libroost.so (the C SDK) for ctypes.

Everything that depends on the C header's layout lives in this module: the
structs, the callback types and the prototypes of include/roost/client.h,
include/roost/engine.h and include/roost/status.h. When the header changes,
this file changes with it (the field lists below follow the header's order
exactly; ctypes computes the same offsets as the C compiler does for the
platform's ABI).

Three handles to the same library are used on purpose:

- ``lib`` (ctypes.CDLL) releases the GIL around each call. It is used for
  the calls that can block (start, wait_ready, flush, close), so that the
  SDK's background thread and other Python threads keep running meanwhile.
- ``fast`` (ctypes.PyDLL) keeps the GIL held. It is used for the calls that
  the header promises never block (evaluation, context building, outcomes):
  they take tens of nanoseconds, less than giving the GIL up and taking it
  back would cost. Holding the GIL there is also what makes Client.close
  safe against threads still evaluating (see client.py). None of these
  calls waits for a lock that the background thread holds while it calls
  back into Python, so holding the GIL cannot deadlock with an event.

- ``hot`` (another ctypes.PyDLL) is the same, for the few calls on the
  evaluation path, declared without prototypes (argtypes): ctypes'
  per-argument checks cost about 100 ns a call there, a third of the call.
  Their callers pass only values whose C conversion is exact without a
  prototype: ctypes pointer objects, bytes, True/False for bools, and
  c_size_t objects for sizes. (Functions taking a double keep their
  prototype: without one, ctypes does not convert Python floats at all.)
  One exception: roost_context_load's length and record count are plain
  Python ints, which ctypes passes as C ints; libffi widens integer
  arguments to the whole register (sign-extending, on x86-64 and arm64
  alike), so a value below 2**31 arrives as the same size_t, and building
  two c_size_t objects would cost half the call. The caller keeps both below
  2**20.
"""
from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import List, Optional, Tuple

LIBRARY_ENV = "ROOST_LIBRARY"
LIBRARY_NAME = "libroost.so"

BUILD_HINT = (
    "Build it from the Roost repository with\n"
    "    bazel build //sdk/c:libroost.so\n"
    "then either point the package at it:\n"
    "    export ROOST_LIBRARY=$(bazel info bazel-bin)/sdk/c/libroost.so\n"
    "or reinstall the package so that it is copied in:\n"
    "    ROOST_LIBRARY=$(bazel info bazel-bin)/sdk/c/libroost.so "
    "pip install --no-build-isolation --no-index ./sdk/python\n"
    "(docs/sdk-python.md, \"Installing\")."
)


def _candidates() -> List[Tuple[str, str]]:
    """(path, where it came from) in the order they are tried."""
    here = os.path.dirname(os.path.abspath(__file__))
    found = [(os.path.join(here, LIBRARY_NAME), "next to the package")]
    # A source checkout: sdk/python/roost -> the repository's bazel-bin link.
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    if os.path.isfile(os.path.join(repo, "WORKSPACE")):
        found.append((os.path.join(repo, "bazel-bin", "sdk", "c", LIBRARY_NAME),
                      "the repository's bazel-bin"))
    return found


def _open(path: str, origin: str) -> Tuple[ctypes.CDLL, ctypes.PyDLL, str]:
    try:
        return ctypes.CDLL(path), ctypes.PyDLL(path), path
    except OSError as e:
        # The file is there but will not load: most often a missing
        # dependency (libgrpc) or a sanitizer build; say which.
        hint = ""
        if "libgrpc" in str(e) or "libgpr" in str(e):
            hint = " (install gRPC's runtime: apt-get install libgrpc29)"
        elif "asan" in str(e).lower():
            hint = (" (an AddressSanitizer build: run python with "
                    "LD_PRELOAD=$(gcc -print-file-name=libasan.so))")
        raise ImportError("roost: %s (%s) cannot be loaded: %s%s"
                          % (path, origin, e, hint)) from e


def _load() -> Tuple[ctypes.CDLL, ctypes.PyDLL, str]:
    env = os.environ.get(LIBRARY_ENV)
    if env:  # an explicit choice is never second-guessed
        if not os.path.exists(env):
            raise ImportError("roost: $%s is %s: no such file.\n%s" % (LIBRARY_ENV, env,
                                                                      BUILD_HINT))
        return _open(env, "$" + LIBRARY_ENV)
    tried = []
    for candidate, origin in _candidates():
        if os.path.exists(candidate):
            return _open(candidate, origin)
        tried.append("%s (%s): no such file" % (candidate, origin))
    # Last resort: the dynamic linker's search path (an installed libroost).
    try:
        return ctypes.CDLL(LIBRARY_NAME), ctypes.PyDLL(LIBRARY_NAME), LIBRARY_NAME
    except OSError:
        tried.append("%s on the dynamic linker's search path: not found" % LIBRARY_NAME)
    raise ImportError("roost: cannot find the C SDK's shared library %s. Looked at:\n  %s\n%s"
                      % (LIBRARY_NAME, "\n  ".join(tried), BUILD_HINT))


lib, fast, path = _load()

# ------------------------------------------------------------------ structs
# Sizes from include/roost/*.h.
ERROR_MSG_MAX = 512
DETAILS_VARIANT_MAX = 127
SCOPE_KEY_MAX = 128
ROLLOUT_TEXT_MAX = 128
PROBE_DETAIL_MAX = 255
UNIT_MAX = 128


class Error(Structure):
    """roost_error"""
    _fields_ = [("code", c_int), ("msg", c_char * ERROR_MSG_MAX)]


class Event(Structure):
    """roost_event"""
    _fields_ = [
        ("type", c_int),
        ("state", c_int),
        ("revision", c_uint64),
        ("from_cache", c_bool),
        ("status", c_int),
        ("message", c_char_p),
        ("keys", POINTER(c_char_p)),
        ("nkeys", c_size_t),
        ("rollouts", POINTER(c_char_p)),
        ("nrollouts", c_size_t),
        ("probes", POINTER(c_char_p)),
        ("nprobes", c_size_t),
        ("experiments", POINTER(c_char_p)),
        ("nexperiments", c_size_t),
    ]


EVENT_FN = CFUNCTYPE(None, c_void_p, POINTER(Event))
LOG_FN = CFUNCTYPE(None, c_void_p, c_int, c_char_p)


class Options(Structure):
    """roost_client_options"""
    _fields_ = [
        ("target", c_char_p),
        ("token", c_char_p),
        ("cache_path", c_char_p),
        ("service", c_char_p),
        ("environment", c_char_p),
        ("version", c_char_p),
        ("connect_timeout_ms", c_uint32),
        ("flush_interval_ms", c_uint32),
        ("report_timeout_ms", c_uint32),
        ("close_timeout_ms", c_uint32),
        ("backoff_initial_ms", c_uint32),
        ("backoff_max_ms", c_uint32),
        ("keepalive_ms", c_uint32),
        ("max_message_bytes", c_size_t),
        ("outcome_memory_limit", c_size_t),
        ("max_series", c_uint32),
        ("on_event", EVENT_FN),
        ("event_user", c_void_p),
        ("on_log", LOG_FN),
        ("log_user", c_void_p),
        ("log_level", c_int),
        ("exposure_units", c_uint32),
    ]


class Stats(Structure):
    """roost_client_stats"""
    _fields_ = [
        ("state", c_int),
        ("revision", c_uint64),
        ("flags", c_uint32),
        ("flags_rejected", c_uint32),
        ("snapshots_received", c_uint64),
        ("changes_received", c_uint64),
        ("connects", c_uint64),
        ("disconnects", c_uint64),
        ("cache_writes", c_uint64),
        ("observations", c_uint64),
        ("batches_sent", c_uint64),
        ("batches_acked", c_uint64),
        ("batches_duplicate", c_uint64),
        ("dropped_memory_limit", c_uint64),
        ("dropped_series_limit", c_uint64),
        ("dropped_rejected", c_uint64),
        ("pending_outcomes", c_uint64),
        ("outcome_memory", c_size_t),
        ("snapshot_memory", c_size_t),
        ("rollouts", c_uint32),
        ("probes", c_uint32),
        ("experiments", c_uint32),
        ("experiments_running", c_uint32),
        ("exposures", c_uint64),
        ("exposures_dropped", c_uint64),
    ]


class Details(Structure):
    """roost_details"""
    _fields_ = [
        ("reason", c_int),
        ("error", c_int),
        ("message", c_char_p),
        ("revision", c_uint64),
        ("variant_len", c_size_t),
        ("variant", c_char * (DETAILS_VARIANT_MAX + 1)),
    ]


class RolloutInfo(Structure):
    """roost_rollout_info"""
    _fields_ = [
        ("phase", c_int),
        ("canary_weight_bp", c_uint32),
        ("step", c_uint32),
        ("revision", c_uint64),
        ("service", c_char * (ROLLOUT_TEXT_MAX + 1)),
        ("baseline", c_char * (ROLLOUT_TEXT_MAX + 1)),
        ("canary", c_char * (ROLLOUT_TEXT_MAX + 1)),
    ]


class RouteDetails(Structure):
    """roost_route_details"""
    _fields_ = [
        ("arm", c_int),
        ("found", c_bool),
        ("sticky", c_bool),
        ("phase", c_int),
        ("canary_weight_bp", c_uint32),
        ("revision", c_uint64),
        ("version", c_char * (ROLLOUT_TEXT_MAX + 1)),
    ]


class Request(Structure):
    """roost_request"""
    _fields_ = [
        ("arm", c_int),
        ("status", c_int),
        ("start_ns", c_int64),
        ("latency_ms", c_double),
        ("series", c_void_p),
    ]


class ProbeInfo(Structure):
    """roost_probe_info"""
    _fields_ = [
        ("state", c_int),
        ("circuit", c_int),
        ("latency_ms", c_double),
        ("consecutive_failures", c_uint32),
        ("since_unix_ms", c_int64),
        ("detail", c_char * (PROBE_DETAIL_MAX + 1)),
    ]


class ExperimentInfo(Structure):
    """roost_experiment_info"""
    _fields_ = [
        ("phase", c_int),
        ("revision", c_uint64),
        ("flag", c_char * (SCOPE_KEY_MAX + 1)),
        ("unit", c_char * (UNIT_MAX + 1)),
    ]


# --------------------------------------------------------------- prototypes

def _check(handle: ctypes.CDLL, name: str):
    """handle.name, or an ImportError when the library lacks it (built from
    another version of Roost than this package)."""
    try:
        return getattr(handle, name)
    except AttributeError:
        raise ImportError("roost: %s does not export %s: it was built from another version "
                          "of Roost than this package.\n%s" % (path, name, BUILD_HINT)) from None


def _declare(handle: ctypes.CDLL, name: str, restype, *argtypes) -> None:
    fn = _check(handle, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


class Pointer(c_void_p):
    """A pointer that ctypes hands back as an object (a c_void_p restype
    gives a bare int, which cannot be passed without a prototype)."""


_client = c_void_p
_ctx = c_void_p       # const roost_ctx *
_context = c_void_p   # roost_context *
_err = POINTER(Error)
_details = POINTER(Details)

# Blocking or one-off calls: GIL released.
_declare(lib, "roost_client_options_init", None, POINTER(Options))
_declare(lib, "roost_client_new", c_int, POINTER(Options), POINTER(c_void_p), _err)
_declare(lib, "roost_client_start", c_int, _client, _err)
_declare(lib, "roost_client_wait_ready", c_int, _client, c_uint32)
_declare(lib, "roost_client_flush", c_int, _client, c_uint32, _err)
_declare(lib, "roost_client_close", c_int, _client, _err)

# Never-blocking calls: GIL held (see the module comment).
_declare(fast, "roost_strerror", c_char_p, c_int)
_declare(fast, "roost_client_inject_fault", c_int, _client, c_int, c_uint32)
_declare(fast, "roost_client_get_state", c_int, _client)
_declare(fast, "roost_client_revision", c_uint64, _client)
_declare(fast, "roost_client_id", c_char_p, _client)
_declare(fast, "roost_client_get_stats", None, _client, POINTER(Stats))
_declare(fast, "roost_client_flag_metadata", c_int, _client, c_char_p, ctypes.c_char_p,
         c_size_t, POINTER(c_size_t), _err)
_declare(fast, "roost_client_int", c_int64, _client, c_char_p, _ctx, c_int64, _details)
_declare(fast, "roost_client_float", c_double, _client, c_char_p, _ctx, c_double, _details)
_declare(fast, "roost_context_new", c_int, c_size_t, c_size_t, POINTER(c_void_p))
_declare(fast, "roost_context_free", None, _context)
_declare(fast, "roost_context_clear", None, _context)
_declare(fast, "roost_context_set_targeting_key", c_int, _context, c_char_p)
_declare(fast, "roost_context_set_string", c_int, _context, c_char_p, c_char_p)
_declare(fast, "roost_context_set_number", c_int, _context, c_char_p, c_double)
_declare(fast, "roost_context_set_bool", c_int, _context, c_char_p, c_bool)
_declare(fast, "roost_context_stamp", None, _context)
_declare(fast, "roost_context_set_timestamp", None, _context, c_int64)
_declare(fast, "roost_context_ctx", Pointer, _context)
_declare(fast, "roost_observe", c_int, _client, c_int, c_char_p, c_char_p, c_char_p,
         c_double, c_bool)
_declare(fast, "roost_series_get", c_int, _client, c_int, c_char_p, c_char_p, c_char_p,
         POINTER(c_void_p))
_declare(fast, "roost_series_observe", c_int, c_void_p, c_double, c_bool)
_declare(fast, "roost_rollout_status", c_int, _client, c_char_p, POINTER(RolloutInfo))
_declare(fast, "roost_probe_status", c_int, _client, c_char_p, POINTER(ProbeInfo))
_declare(fast, "roost_experiment_status", c_int, _client, c_char_p, POINTER(ExperimentInfo))
_declare(fast, "roost_track", c_int, _client, c_char_p, _ctx, c_char_p, c_double, c_bool)

# The evaluation path, without prototypes (see the module comment):
#   roost_client_bool(client *, key, ctx *, bool, details *)
#   roost_client_string / _object(client *, key, ctx *, default, buf, size_t cap, details *)
#   roost_context_clear / _stamp(context *), roost_context_ctx(context *)
#   roost_context_set_string(context *, key, value), _set_bool(context *, key, bool)
#   roost_context_load(context *, data, size_t len, size_t records)
#   roost_route(client *, rollout, ctx *, route_details *)
#   roost_request_begin(client *, rollout, ctx *, request *, route_details *)
#   roost_request_end(request *, bool)
hot = ctypes.PyDLL(path)
for _name, _restype in (
    ("roost_client_bool", c_bool),
    ("roost_client_string", c_size_t),
    ("roost_client_object", c_size_t),
    ("roost_context_clear", None),
    ("roost_context_stamp", None),
    ("roost_context_ctx", Pointer),
    ("roost_context_load", c_int),
    ("roost_context_set_string", c_int),
    ("roost_context_set_bool", c_int),
    ("roost_route", c_int),
    ("roost_request_begin", c_int),
    ("roost_request_end", c_int),
):
    _check(hot, _name).restype = _restype


def strerror(code: int) -> str:
    """roost_strerror: a short description of a status code."""
    text: Optional[bytes] = fast.roost_strerror(code)
    return text.decode() if text else "unknown status %d" % code
