"""roost.Client: the C SDK's client (include/roost/client.h) for Python.

One Client wraps one roost_client: a local copy of every flag, streamed from
roostd and evaluated in-process, and outcome reporting back to roostd.
Evaluation is one ctypes call into the C SDK (no lock inside it, no
allocation, no network), plus the conversion of the arguments.

Closing safely. The C SDK frees the client in roost_client_close, and says
close must not run while another call is using the client. Python programs
cannot be trusted with that rule (a daemon thread still evaluating at
interpreter exit, when the client is closed by its finalizer, would read
freed memory), so this module enforces it without a lock on the hot path:

- the native handle lives in one ctypes pointer object, ``_Core.handle``,
  which every call passes as is; ctypes reads the address out of it while
  converting the arguments, inside the call;
- the calls that never block go through the PyDLL handle, so the GIL is
  held from that read until the C function returns: no other Python code,
  close included, runs in between;
- close first sets the pointer to NULL (holding the GIL), then frees. A call
  that starts afterwards passes NULL, for which the C SDK returns the
  caller's default (evaluation) or EINVAL (outcomes), never touching freed
  memory;
- calls that can block (start, wait_ready, flush) release the GIL, so they
  register themselves instead, and close waits for them (wait_ready waits
  in short slices so that close never waits long).
"""
from __future__ import annotations

import builtins
import functools
import inspect
import json
import logging
import math
import threading
import time
import weakref
from ctypes import byref, c_size_t, c_void_p, create_string_buffer
from typing import (Any, Callable, Dict, Iterable, Mapping, Optional, TypeVar, Union, cast,
                    overload)

from . import _native
from ._events import Dispatcher, Handler, event_type, in_sdk_callback
from .context import Context, native_context
from .errors import (
    ClientClosedError,
    InvalidArgumentError,
    NotFoundError,
    UnavailableError,
    error_for,
)
from .types import (
    ARMS,
    ERROR_CODES,
    EXPERIMENT_PHASES,
    PROBE_CIRCUITS,
    PROBE_STATES,
    REASONS,
    ROLLOUT_PHASES,
    SCOPE_KINDS,
    STATES,
    Arm,
    EvaluationDetails,
    EventType,
    ExperimentStatus,
    JSONValue,
    LogLevel,
    ProbeStatus,
    RolloutStatus,
    RouteDetails,
    Scope,
    State,
    Stats,
    enum_at,
)

logger = logging.getLogger("roost")

_fast = _native.fast
_lib = _native.lib
_eval_bool = _native.hot.roost_client_bool
_eval_int = _fast.roost_client_int
_eval_float = _fast.roost_client_float
_eval_string = _native.hot.roost_client_string
_eval_object = _native.hot.roost_client_object
_observe = _fast.roost_observe
_series_observe = _fast.roost_series_observe
_route = _native.hot.roost_route
_request_begin = _native.hot.roost_request_begin
_request_end = _native.hot.roost_request_end
_track = _fast.roost_track

_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_LABELS = ("service", "environment", "version")
# Series observe() keeps resolved, per client (the C SDK's default max_series).
_SERIES_CACHE_MAX = 10000
# Longest slice of one wait_ready call: how long close may wait for it.
_WAIT_SLICE_S = 0.1

ContextArg = Union[Mapping[str, Any], Context, None]
F = TypeVar("F", bound=Callable[..., Any])
_Float = builtins.float  # the Client has a method named float


def _ms(name: str, seconds: Optional[_Float]) -> Optional[int]:
    if seconds is None:
        return None
    if not isinstance(seconds, (int, _Float)) or isinstance(seconds, bool) or seconds < 0:
        raise InvalidArgumentError("%s must be a number of seconds >= 0; got %r" % (name, seconds))
    ms = int(round(seconds * 1000))
    if ms > 0xFFFFFFFF:
        raise InvalidArgumentError("%s is too long (%r s)" % (name, seconds))
    return ms


class _Scratch(threading.local):
    """Per-thread output buffers, so evaluation allocates nothing native."""

    def __init__(self) -> None:
        self.details = _native.Details()
        self.details_ref = byref(self.details)
        self.grow(256)

    def grow(self, size: int) -> None:
        size = 1 << (size - 1).bit_length()  # powers of two: few regrowths
        self.buf = create_string_buffer(size)
        self.cap = c_size_t(size)  # passed without a prototype: must be a size_t
        self.cap_int = size


_scratch = _Scratch()


class _Core:
    """What the native client needs kept alive, shared with the finalizer.

    Kept apart from Client so that the finalizer (which closes a client that
    was garbage-collected or is still open at interpreter exit) does not keep
    the Client itself alive.
    """

    __slots__ = ("handle", "lock", "blocking", "idle", "dispatcher", "target", "series",
                 "requests")

    def __init__(self, target: str, dispatcher: Dispatcher) -> None:
        self.handle = c_void_p()  # NULL until created, and again once closed
        self.lock = threading.Lock()  # guards `blocking` and closing
        self.blocking = 0
        self.idle = threading.Condition(self.lock)
        self.dispatcher = dispatcher
        self.target = target
        # Series pointers belong to the native client: nulled at close too,
        # as are those of requests not ended yet.
        self.series: "weakref.WeakSet[Series]" = weakref.WeakSet()
        self.requests: "weakref.WeakSet[Request]" = weakref.WeakSet()

    def enter_blocking(self) -> int:
        """The handle's address for a call that releases the GIL; pair with
        leave_blocking. Raises ClientClosedError after close."""
        with self.lock:
            if not self.handle:
                raise ClientClosedError("the client for %s is closed" % self.target)
            self.blocking += 1
            return self.handle.value  # type: ignore[return-value]

    def leave_blocking(self) -> None:
        with self.lock:
            self.blocking -= 1
            self.idle.notify_all()

    def close(self, timeout_s: _Float) -> None:
        """Closes the native client once; raises what roost_client_close said."""
        with self.lock:
            address = self.handle.value
            if not address:
                return
            self.handle.value = None
            for series in list(self.series):
                series._ptr.value = None
            for request in list(self.requests):
                request._orphan()
            while self.blocking:
                self.idle.wait()
        err = _native.Error()
        try:
            rc = _lib.roost_client_close(address, byref(err))
        finally:
            # Events the C SDK queued before it stopped are still delivered.
            self.dispatcher.stop(timeout_s)
        if rc:
            raise error_for(rc, err.msg.decode("utf-8", "replace"))

    def finalize(self) -> None:
        """weakref.finalize's callback (the Client was collected, or the
        interpreter is exiting): closes, never raises. When the garbage
        collector happens to run it on the SDK's own background thread,
        during an event callback, the close moves to a thread of its own:
        the background thread cannot wait for itself to stop."""
        if in_sdk_callback():
            threading.Thread(target=self.finalize, name="roost-close %s" % self.target).start()
            return
        try:
            self.close(5.0)
        except Exception as e:
            logger.warning("roost: closing the client for %s: %s", self.target, e)


class Client:
    """A Roost client: evaluates flags locally and reports outcomes.

        with roost.Client("roostd.internal:7070", cache_path="/var/cache/svc/roost.cache",
                          labels={"service": "checkout", "version": "2.4.1"}) as client:
            client.wait_ready(2.0)
            if client.boolean("new-checkout", False, {"targetingKey": user_id}):
                ...

    Arguments are those of roost_client_options (docs/sdk-python.md lists
    them); durations are in seconds, None keeps the C SDK's default. With
    ``start=False`` nothing runs until start(): register event handlers
    first to see the events of start-up (READY or STALE from the cache).

    Evaluation, outcomes and the getters may be called from any number of
    threads. close() (or leaving the ``with`` block) flushes outcomes and
    writes the cache; a client that is never closed is closed when it is
    garbage-collected or at interpreter exit.
    """

    def __init__(
        self,
        address: str,
        *,
        token: Optional[str] = None,
        cache_path: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        connect_timeout: Optional[_Float] = None,
        flush_interval: Optional[_Float] = None,
        report_timeout: Optional[_Float] = None,
        close_timeout: Optional[_Float] = None,
        backoff_initial: Optional[_Float] = None,
        backoff_max: Optional[_Float] = None,
        keepalive: Optional[_Float] = None,
        max_message_bytes: Optional[int] = None,
        outcome_memory_limit: Optional[int] = None,
        max_series: Optional[int] = None,
        exposure_units: Optional[int] = None,
        log_level: Union[LogLevel, int] = LogLevel.WARN,
        start: bool = True,
    ) -> None:
        if not isinstance(address, str) or not address:
            raise InvalidArgumentError("address must be roostd's \"host:port\"; got %r" % (address,))
        o = _native.Options()
        _lib.roost_client_options_init(byref(o))
        o.target = address.encode()
        if token is not None:
            o.token = token.encode()
        if cache_path is not None:
            o.cache_path = str(cache_path).encode()
        for name, value in (labels or {}).items():
            if name not in _LABELS:
                raise InvalidArgumentError("unknown label %r; labels are service, environment "
                                           "and version" % (name,))
            if value is not None:
                setattr(o, name, str(value).encode())
        for field, name, seconds in (
            ("connect_timeout_ms", "connect_timeout", connect_timeout),
            ("flush_interval_ms", "flush_interval", flush_interval),
            ("report_timeout_ms", "report_timeout", report_timeout),
            ("close_timeout_ms", "close_timeout", close_timeout),
            ("backoff_initial_ms", "backoff_initial", backoff_initial),
            ("backoff_max_ms", "backoff_max", backoff_max),
            ("keepalive_ms", "keepalive", keepalive),
        ):
            ms = _ms(name, seconds)
            if ms is not None:
                setattr(o, field, ms)
        for field, value in (("max_message_bytes", max_message_bytes),
                             ("outcome_memory_limit", outcome_memory_limit),
                             ("max_series", max_series),
                             ("exposure_units", exposure_units)):
            if value is not None:
                if not isinstance(value, int) or value < 0:
                    raise InvalidArgumentError("%s must be an int >= 0; got %r" % (field, value))
                setattr(o, field, value)
        o.log_level = int(log_level)
        self._close_timeout = (o.close_timeout_ms / 1000.0) + 1.0

        dispatcher = Dispatcher("roost-events %s" % address)
        o.on_event = dispatcher.event_fn
        o.on_log = dispatcher.log_fn
        core = _Core(address, dispatcher)
        err = _native.Error()
        rc = _lib.roost_client_new(byref(o), byref(core.handle), byref(err))
        if rc:
            dispatcher.stop(None)
            raise error_for(rc, err.msg.decode("utf-8", "replace"))
        self._core = core
        self._handle = core.handle  # the same pointer object, one lookup closer
        self._series_cache: dict = {}
        self._address = address
        self._started = False
        self._finalizer = weakref.finalize(self, core.finalize)
        if start:
            self.start()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "Client":
        """Loads the cache and starts the background thread; never blocks on
        the network. With a usable cache the client serves it (STALE) when
        this returns."""
        if self._started:
            raise InvalidArgumentError("the client for %s is already started" % self._address)
        handle = self._core.enter_blocking()
        try:
            err = _native.Error()
            rc = _lib.roost_client_start(handle, byref(err))
        finally:
            self._core.leave_blocking()
        if rc:
            raise error_for(rc, err.msg.decode("utf-8", "replace"))
        self._started = True
        return self

    def wait_ready(self, timeout: _Float = 5.0) -> bool:
        """Waits until the client has a configuration to serve (READY, or
        STALE from the cache). Returns False when `timeout` seconds passed
        first; evaluations then keep returning defaults until it has one."""
        if not self._started:
            raise InvalidArgumentError("wait_ready: the client for %s is not started"
                                       % self._address)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            handle = self._core.enter_blocking()
            try:
                left = deadline - time.monotonic()
                rc = _lib.roost_client_wait_ready(
                    handle, int(max(0.0, min(left, _WAIT_SLICE_S)) * 1000))
            finally:
                self._core.leave_blocking()
            if rc == 0:
                return True
            if rc != 11 or time.monotonic() >= deadline:  # 11: ETIMEOUT
                return False

    def flush(self, timeout: _Float = 10.0) -> None:
        """Sends every outcome observed so far and waits until roostd
        acknowledged it. Raises DeadlineExceededError (saying how many are
        still pending; they stay queued and are retried) after `timeout`."""
        ms = _ms("timeout", timeout) or 0
        handle = self._core.enter_blocking()
        try:
            err = _native.Error()
            rc = _lib.roost_client_flush(handle, ms, byref(err))
        finally:
            self._core.leave_blocking()
        if rc:
            raise error_for(rc, err.msg.decode("utf-8", "replace"))

    def close(self) -> None:
        """Flushes outcomes (for up to close_timeout), writes the cache, stops
        the background thread and frees the client. Closing twice is fine.

        Raises DeadlineExceededError or UnavailableError when outcomes could
        not be delivered (the message says how many were lost); the client
        is closed either way. Evaluations after close return the default.
        """
        self._finalizer.detach()
        self._core.close(self._close_timeout)

    def _drop_report_acks(self, count: int) -> None:
        """Testing only (roost_client_inject_fault): the next `count` Report
        acknowledgements roostd sends after storing a batch are discarded as
        if the connection had failed, so the batch is sent again."""
        rc = _fast.roost_client_inject_fault(self._handle, 1, count)  # DROP_REPORT_ACK
        if rc:
            raise error_for(rc, "inject_fault: %s" % _native.strerror(rc))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
            return
        # Do not hide the exception that is leaving the block.
        try:
            self.close()
        except Exception as e:
            logger.warning("roost: closing the client for %s: %s", self._address, e)

    # ----------------------------------------------------------------- state

    @property
    def address(self) -> str:
        return self._address

    @property
    def state(self) -> State:
        # NULL (closed) gives CLOSED.
        return STATES[_fast.roost_client_get_state(self._handle)]

    @property
    def revision(self) -> int:
        """The configuration revision being served (0 = none)."""
        return _fast.roost_client_revision(self._handle)

    @property
    def client_id(self) -> str:
        """The random id this client sends with its reports ("" once closed)."""
        return _fast.roost_client_id(self._handle).decode()

    @property
    def closed(self) -> bool:
        return not self._handle

    def stats(self) -> Stats:
        """The client's counters (roost_client_stats; all 0 once closed)."""
        s = _native.Stats()
        _fast.roost_client_get_stats(self._handle, byref(s))
        values = {name: getattr(s, name) for name, _ in _native.Stats._fields_}
        values["state"] = STATES[values["state"]]
        return Stats(**{k: values[k] for k in Stats.__dataclass_fields__})

    def __repr__(self) -> str:
        return "<roost.Client %s %s revision %d>" % (self._address, self.state.value,
                                                     self.revision)

    # ---------------------------------------------------------------- events

    @overload
    def on(self, event: Union[EventType, str, Iterable[Union[EventType, str]]],
           handler: None = None) -> Callable[[Handler], Handler]: ...

    @overload
    def on(self, event: Union[EventType, str, Iterable[Union[EventType, str]]],
           handler: Handler) -> Handler: ...

    def on(self, event, handler=None):
        """Calls handler(event) for every event of this type (or types).

        Handlers run on the client's event thread (one per client), one
        event at a time, in order; an exception is logged to the "roost"
        logger and does not stop later events. A slow handler delays only
        later handlers, never the SDK. Usable as a decorator:

            @client.on(roost.EventType.CONFIGURATION_CHANGED)
            def changed(event): print(event.keys)
        """
        types = [event_type(event)] if isinstance(event, (EventType, str)) else \
            [event_type(e) for e in event]

        def register(fn: Handler) -> Handler:
            if not callable(fn):
                raise TypeError("event handler must be callable; got %r" % (fn,))
            for t in types:
                self._core.dispatcher.add(t, fn)
            return fn

        return register if handler is None else register(handler)

    def off(self, event: Union[EventType, str], handler: Handler) -> None:
        """Removes a handler added with on(). ValueError when it was not."""
        self._core.dispatcher.remove(event_type(event), handler)

    # -------------------------------------------------------------- outcomes

    def observe(self, scope: Union[Scope, str], key: str, arm: str, metric: str,
                value: _Float, success: bool = True) -> bool:
        """Records one outcome of (scope, key, arm, metric).

        ``scope`` is Scope.FLAG (key = flag, arm = variant), Scope.ROLLOUT
        (key = rollout, arm = "baseline" or "canary") or Scope.EXPERIMENT
        (key = experiment, arm = variant), or their names. ``value`` is a
        latency (name the unit in the metric: "latency_ms") or 1/0 for a
        conversion; ``success`` counts towards the success rate.

        Returns True when recorded, False when a limit (max_series or
        outcome_memory_limit) was reached: the outcome is then counted as
        dropped and reported to roostd as such. Raises InvalidArgumentError
        for names that are empty or too long and values that are NaN,
        infinite or above 1e100 in magnitude.
        """
        # Names seen before go straight to their resolved series: converting
        # one pointer and a double is much cheaper through ctypes than
        # encoding and passing three names.
        series = self._series_cache.get((scope, key, arm, metric))
        if series is not None:
            rc = _series_observe(series._ptr, value, success)
        else:
            kind = SCOPE_KINDS.get(scope)
            if kind is None:
                raise InvalidArgumentError("scope must be flag, rollout or experiment; got %r"
                                           % (scope,))
            rc = _observe(self._handle, kind, key.encode(), arm.encode(), metric.encode(),
                          value, success)
            if rc == 0 and len(self._series_cache) < _SERIES_CACHE_MAX:
                self._series_cache[(scope, key, arm, metric)] = self.series(scope, key, arm,
                                                                            metric)
        if rc == 0:
            return True
        if rc == 4:  # ELIMIT: counted as dropped by the SDK
            return False
        raise self._observe_error(rc, scope, key, arm, metric, value)

    def series(self, scope: Union[Scope, str], key: str, arm: str, metric: str) -> "Series":
        """A series resolved once, for hot paths: Series.observe skips the
        name lookup (same semantics as observe)."""
        kind = SCOPE_KINDS.get(scope)
        if kind is None:
            raise InvalidArgumentError("scope must be flag, rollout or experiment; got %r"
                                       % (scope,))
        out = c_void_p()
        rc = _fast.roost_series_get(self._handle, kind, key.encode(), arm.encode(),
                                    metric.encode(), byref(out))
        if rc:
            raise self._observe_error(rc, scope, key, arm, metric, 0.0)
        series = Series(out, Scope(scope), key, arm, metric)
        self._core.series.add(series)
        if not self._handle:  # closed meanwhile: the pointer may be stale
            out.value = None
        return series

    def _observe_error(self, rc: int, scope, key: str, arm: str, metric: str,
                       value: _Float) -> Exception:
        what = "observe(%s %r, arm %r, metric %r)" % (Scope(scope).value, key, arm, metric)
        if not self._handle:
            return ClientClosedError("%s: the client for %s is closed" % (what, self._address))
        if rc != 1:
            return error_for(rc, "%s: %s" % (what, _native.strerror(rc)))
        # The C SDK returns EINVAL without a message; say which rule was broken.
        lengths = ((key, "scope key", 1, 128), (arm, "arm", 0, 64), (metric, "metric", 1, 64))
        for text, name, lo, hi in lengths:
            n = len(text.encode())
            if not lo <= n <= hi:
                return InvalidArgumentError("%s: %s is %d bytes; it must be %d-%d"
                                            % (what, name, n, lo, hi))
        if math.isnan(value) or math.isinf(value) or abs(value) > 1e100:
            return InvalidArgumentError("%s: value %r; values must be finite and at most 1e100 "
                                        "in magnitude" % (what, value))
        return InvalidArgumentError("%s: invalid argument" % what)

    # ------------------------------------------------------ rollouts, probes

    def route(self, rollout: str, context: ContextArg = None) -> Arm:
        """The arm of canary rollout `rollout` this request goes to:
        Arm.BASELINE or Arm.CANARY (str enums: "baseline", "canary").

        With a targeting key in the context ("targetingKey") the choice is
        sticky: the same key gets the same arm in every process and language
        while the weight stays, and stays on the canary as the weight grows.
        Without one, each call draws at random with the canary's weight.
        The baseline when the rollout is unknown, pending, rolled back or at
        weight 0; never raises for anything roostd does.
        """
        try:
            name = rollout.encode()
        except AttributeError:
            raise TypeError("rollout must be a str; got %s" % type(rollout).__name__) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        return ARMS[_route(self._handle, name, ctx, None)]

    def route_details(self, rollout: str, context: ContextArg = None) -> RouteDetails:
        """route() with why: found, sticky, phase, weight, version."""
        try:
            name = rollout.encode()
        except AttributeError:
            raise TypeError("rollout must be a str; got %s" % type(rollout).__name__) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        d = _native.RouteDetails()
        _route(self._handle, name, ctx, byref(d))
        return _route_details(rollout, d)

    def request(self, rollout: str, context: ContextArg = None) -> "Request":
        """Routes a request of `rollout` and starts timing it.

            with client.request("checkout-v2", {"targetingKey": user_id}) as req:
                handler = canary_checkout if req.arm is roost.Arm.CANARY else checkout
                return handler(order)

        Leaving the block records one outcome of metric "requests" for the
        arm (the latency in milliseconds; success unless an exception left
        the block, or ``req.success`` was set), which is what roostd's
        rollout analysis reads. Without ``with``, call ``req.end(success)``.
        """
        try:
            name = rollout.encode()
        except AttributeError:
            raise TypeError("rollout must be a str; got %s" % type(rollout).__name__) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        req = Request(rollout)
        d = req._details
        _request_begin(self._handle, name, ctx, req._ref, byref(d))
        req.arm = ARMS[d.arm]
        req.version = d.version.decode("utf-8", "replace")
        if req._req.series:
            # The request holds a pointer into the client until it ends: let
            # close find it (and check it was not closed meanwhile).
            self._core.requests.add(req)
            if not self._handle:
                req._orphan()
        return req

    def routed(self, rollout: str, context: Union[ContextArg, Callable[..., ContextArg]] = None,
               *, arm_argument: Optional[str] = "arm") -> Callable[[F], F]:
        """A decorator: each call of the function is one request of `rollout`
        (see request()), timed, and recorded as a success unless it raises.

            @client.routed("checkout-v2", context=lambda order: {"targetingKey": order.user})
            def checkout(order, arm):
                return new_checkout(order) if arm is roost.Arm.CANARY else old_checkout(order)

        ``context`` is a context, or a function of the call's arguments that
        returns one. The arm is passed as the keyword argument named by
        ``arm_argument`` (None: not passed). Coroutine functions are timed
        until they finish.
        """
        def decorate(fn: F) -> F:
            def begin(args: tuple, kwargs: dict) -> Request:
                ctx = context(*args, **kwargs) if callable(context) else context
                req = self.request(rollout, ctx)
                if arm_argument:
                    kwargs[arm_argument] = req.arm
                return req

            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def run_async(*args: Any, **kwargs: Any) -> Any:
                    with begin(args, kwargs):
                        return await fn(*args, **kwargs)
                return cast(F, run_async)

            @functools.wraps(fn)
            def run(*args: Any, **kwargs: Any) -> Any:
                with begin(args, kwargs):
                    return fn(*args, **kwargs)
            return cast(F, run)

        return decorate

    def flag_metadata(self, key: str) -> Dict[str, Union[bool, str, int, float]]:
        """Flag `key`'s metadata in the configuration being served: the flag
        set's metadata merged with the flag's own (the flag's wins), as flagd
        merges them ({} when there is none). Raises NotFoundError when the
        configuration has no such flag or there is no configuration yet."""
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        err = _native.Error()
        n = c_size_t(0)
        cap = 256
        while True:
            buf = create_string_buffer(cap)
            rc = _fast.roost_client_flag_metadata(self._handle, k, buf, cap, byref(n), byref(err))
            if rc and not self._handle:
                raise ClientClosedError("the client for %s is closed" % self._address)
            if rc:
                raise error_for(rc, err.msg.decode("utf-8", "replace"))
            if n.value < cap:
                return cast(Dict[str, Union[bool, str, int, float]],
                            json.loads(buf.raw[:n.value].decode("utf-8", "replace")))
            cap = n.value + 1  # the configuration may change in between: loop

    def rollout_status(self, name: str) -> RolloutStatus:
        """Rollout `name` as the client holds it. Raises NotFoundError (no
        such rollout) or UnavailableError (no configuration yet)."""
        info = _native.RolloutInfo()
        self._status_call(_fast.roost_rollout_status, "rollout", name, info)
        return RolloutStatus(
            name=name,
            phase=enum_at(ROLLOUT_PHASES, info.phase),
            canary_weight=info.canary_weight_bp / 10000.0,
            step=info.step,
            service=info.service.decode("utf-8", "replace"),
            baseline=info.baseline.decode("utf-8", "replace"),
            canary=info.canary.decode("utf-8", "replace"),
            revision=info.revision,
        )

    def probe_status(self, name: str) -> ProbeStatus:
        """Probe `name`'s state as roostd last streamed it. Raises
        NotFoundError (no such probe) or UnavailableError (no configuration
        yet)."""
        info = _native.ProbeInfo()
        self._status_call(_fast.roost_probe_status, "probe", name, info)
        return ProbeStatus(
            name=name,
            state=enum_at(PROBE_STATES, info.state),
            circuit=enum_at(PROBE_CIRCUITS, info.circuit),
            latency_ms=info.latency_ms,
            consecutive_failures=info.consecutive_failures,
            since_unix_ms=info.since_unix_ms,
            detail=info.detail.decode("utf-8", "replace"),
        )

    def experiment_status(self, name: str) -> ExperimentStatus:
        """Experiment `name` as the client holds it. Raises NotFoundError or
        UnavailableError like rollout_status()."""
        info = _native.ExperimentInfo()
        self._status_call(_fast.roost_experiment_status, "experiment", name, info)
        return ExperimentStatus(
            name=name,
            phase=enum_at(EXPERIMENT_PHASES, info.phase),
            flag=info.flag.decode("utf-8", "replace"),
            unit=info.unit.decode("utf-8", "replace"),
            revision=info.revision,
        )

    def _status_call(self, fn: Any, kind: str, name: str, out: Any) -> None:
        try:
            rc = fn(self._handle, name.encode(), byref(out))
        except AttributeError:
            raise TypeError("%s name must be a str; got %s" % (kind, type(name).__name__)) \
                from None
        if rc == 0:
            return
        if not self._handle:
            raise ClientClosedError("the client for %s is closed" % self._address)
        if rc == 2:
            raise NotFoundError("no %s %r in the configuration (revision %d)"
                                % (kind, name, self.revision))
        if rc == 8:
            raise UnavailableError("no configuration yet: the client for %s is %s"
                                   % (self._address, self.state.value))
        raise error_for(rc, "%s %r: %s" % (kind, name, _native.strerror(rc)))

    # ----------------------------------------------------------- experiments

    def track(self, experiment: str, context: ContextArg, metric: str, value: _Float,
              success: bool = True) -> bool:
        """Attributes an outcome to the arm the unit in `context` has in
        `experiment` (for a conversion rate, one outcome per unit: value 1
        or 0, success = converted; docs/experiments.md).

        Returns True when recorded. False when not: the experiment is not
        running (draft, stopped, concluded: its analysis is final), the unit
        is not in it, it is not in the configuration (yet), or a limit was
        reached (counted as dropped). Raises InvalidArgumentError for a bad
        metric name or value.

        Evaluating the experiment's flag logs the unit's exposure by itself
        (once per unit, arm and reporting interval); track is for outcomes.
        """
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        try:
            rc = _track(self._handle, experiment.encode(), ctx, metric.encode(), value, success)
        except AttributeError:
            raise TypeError("experiment and metric must be str") from None
        if rc == 0:
            return True
        if rc in (2, 4, 10):  # ENOTFOUND, ELIMIT, ECONFLICT: not recorded, by design
            return False
        what = "track(experiment %r, metric %r)" % (experiment, metric)
        if not self._handle:
            raise ClientClosedError("%s: the client for %s is closed" % (what, self._address))
        if rc == 1:
            n = len(metric.encode())
            if not 1 <= n <= 64:
                raise InvalidArgumentError("%s: metric is %d bytes; it must be 1-64" % (what, n))
            raise InvalidArgumentError("%s: value %r; values must be finite and at most 1e100 "
                                       "in magnitude" % (what, value))
        raise error_for(rc, "%s: %s" % (what, _native.strerror(rc)))

    # ------------------------------------------------------------ evaluation
    # Defined last: the method named `float` shadows the builtin in the
    # class body from here on (annotations use _Float).
    #
    # Each method is written out rather than shared through a helper: a
    # Python call costs about 60 ns, and these are the calls services make
    # most. The native functions run without prototypes (_native.hot), so
    # every argument is normalised here: defaults are checked for type, the
    # key is encoded, the context becomes a pointer object.

    def boolean(self, key: str, default: bool, context: ContextArg = None) -> bool:
        """The value of boolean flag `key` for `context`, or `default`."""
        if default is not True and default is not False:
            raise TypeError("boolean default must be a bool; got %r" % (default,))
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        return _eval_bool(self._handle, k, ctx, default, None)

    def integer(self, key: str, default: int, context: ContextArg = None) -> int:
        """The value of number flag `key` as an integer (truncated toward
        zero, as flagd does), or `default`."""
        if default.__class__ is not int or not _INT64_MIN <= default <= _INT64_MAX:
            _check_int(default)
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        return _eval_int(self._handle, k, ctx, default, None)

    def float(self, key: str, default: _Float, context: ContextArg = None) -> _Float:
        """The value of number flag `key` as a float, or `default`."""
        if default.__class__ is not _Float:
            default = _as_float(default)
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        return _eval_float(self._handle, k, ctx, default, None)

    def string(self, key: str, default: str, context: ContextArg = None) -> str:
        """The value of string flag `key`, or `default`."""
        try:
            d = default.encode()
        except AttributeError:
            raise TypeError("string default must be a str; got %r" % (default,)) from None
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        n = _eval_string(self._handle, k, ctx, d, s.buf, s.cap, None)
        if n < s.cap_int:
            raw = s.buf.value
            if len(raw) == n:
                return raw.decode()
        return self._text(_eval_string, k, ctx, d, None)

    def object(self, key: str, default: JSONValue, context: ContextArg = None) -> JSONValue:
        """The value of object flag `key` (decoded from JSON: dicts, lists,
        str, int, float, bool, None), or `default` (which must be
        JSON-serializable; it is returned as is, not a copy)."""
        return self.object_details(key, default, context).value

    def boolean_details(self, key: str, default: bool,
                        context: ContextArg = None) -> EvaluationDetails[bool]:
        """boolean() with the variant, reason and error."""
        if default is not True and default is not False:
            raise TypeError("boolean default must be a bool; got %r" % (default,))
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        value = _eval_bool(self._handle, k, ctx, default, s.details_ref)
        return _details(key, value, s.details)

    def integer_details(self, key: str, default: int,
                        context: ContextArg = None) -> EvaluationDetails[int]:
        """integer() with the variant, reason and error."""
        if default.__class__ is not int or not _INT64_MIN <= default <= _INT64_MAX:
            _check_int(default)
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        value = _eval_int(self._handle, k, ctx, default, s.details_ref)
        return _details(key, value, s.details)

    def float_details(self, key: str, default: _Float,
                      context: ContextArg = None) -> EvaluationDetails[_Float]:
        """float() with the variant, reason and error."""
        if default.__class__ is not _Float:
            default = _as_float(default)
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        value = _eval_float(self._handle, k, ctx, default, s.details_ref)
        return _details(key, value, s.details)

    def string_details(self, key: str, default: str,
                       context: ContextArg = None) -> EvaluationDetails[str]:
        """string() with the variant, reason and error."""
        try:
            d = default.encode()
        except AttributeError:
            raise TypeError("string default must be a str; got %r" % (default,)) from None
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        value = self._text(_eval_string, k, ctx, d, s.details_ref)
        return _details(key, value, s.details)

    def object_details(self, key: str, default: JSONValue,
                       context: ContextArg = None) -> EvaluationDetails[JSONValue]:
        """object() with the variant, reason and error."""
        try:
            d = json.dumps(default, separators=(",", ":")).encode()
        except (TypeError, ValueError) as e:
            raise TypeError("object default must be JSON-serializable: %s" % e) from None
        try:
            k = key.encode()
        except AttributeError:
            raise _key_error(key) from None
        ctx = context._ctx if context.__class__ is Context else native_context(context)
        s = _scratch
        text = self._text(_eval_object, k, ctx, d, s.details_ref)
        details = s.details
        # No variant chosen means the value is the caller's default: hand the
        # object itself back rather than a parsed copy of it.
        value = default if details.variant_len == 0 else json.loads(text)
        return _details(key, value, details)

    def _text(self, fn, k: bytes, ctx, default: bytes, details) -> str:
        """A string or object evaluation into the thread's buffer, grown and
        repeated while the value does not fit (the C SDK returns the full
        length, as snprintf does; the configuration may change in between)."""
        s = _scratch
        while True:
            n = fn(self._handle, k, ctx, default, s.buf, s.cap, details)
            if n < s.cap_int:
                raw = s.buf.value
                if len(raw) != n:  # the value holds a NUL character
                    raw = s.buf.raw[:n]
                return raw.decode("utf-8", "replace")
            s.grow(n + 1)


def _key_error(key: Any) -> TypeError:
    return TypeError("flag key must be a str; got %s" % type(key).__name__)


def _check_int(default: Any) -> None:
    if not isinstance(default, int) or isinstance(default, bool):
        raise TypeError("integer default must be an int; got %r" % (default,))
    if not _INT64_MIN <= default <= _INT64_MAX:
        raise ValueError("integer default %d does not fit in 64 bits" % default)


def _as_float(default: Any) -> _Float:
    if isinstance(default, (int, _Float)) and not isinstance(default, bool):
        return _Float(default)
    raise TypeError("float default must be a number; got %r" % (default,))


def _details(key: str, value: Any, d: _native.Details) -> EvaluationDetails[Any]:
    message = d.message
    return EvaluationDetails(
        key,
        value,
        d.variant.decode("utf-8", "replace") if d.variant_len else None,
        REASONS[d.reason],
        ERROR_CODES[d.error],
        message.decode() if message else None,
        d.revision,
    )


class Series:
    """A resolved outcome series (Client.series); observe() is the fast path."""

    __slots__ = ("_ptr", "scope", "key", "arm", "metric", "__weakref__")

    def __init__(self, ptr: c_void_p, scope: Scope, key: str, arm: str, metric: str) -> None:
        self._ptr = ptr  # nulled by the client's close (the series is the client's)
        self.scope, self.key, self.arm, self.metric = scope, key, arm, metric

    def observe(self, value: _Float, success: bool = True) -> bool:
        """Records one outcome; True when recorded, False when dropped at a
        limit. After the client is closed, raises ClientClosedError."""
        rc = _series_observe(self._ptr, value, success)
        if rc == 0:
            return True
        if rc == 4:  # ELIMIT: counted as dropped by the SDK
            return False
        if not self._ptr:
            raise ClientClosedError("observe: the client of this series is closed")
        raise InvalidArgumentError("observe(%s %r, arm %r, metric %r): value %r; values must be "
                                   "finite and at most 1e100 in magnitude"
                                   % (self.scope.value, self.key, self.arm, self.metric, value))

    def __repr__(self) -> str:
        return "<roost.Series %s %r arm %r metric %r>" % (self.scope.value, self.key, self.arm,
                                                         self.metric)


def _route_details(rollout: str, d: _native.RouteDetails) -> RouteDetails:
    return RouteDetails(
        rollout=rollout,
        arm=ARMS[d.arm],
        found=bool(d.found),
        sticky=bool(d.sticky),
        phase=enum_at(ROLLOUT_PHASES, d.phase),
        canary_weight=d.canary_weight_bp / 10000.0,
        version=d.version.decode("utf-8", "replace"),
        revision=d.revision,
    )


class Request:
    """A request routed by Client.request(). ``arm`` is where it goes and
    ``version`` that arm's version; leaving the ``with`` block (or end())
    records its outcome, after which ``latency_ms`` is its duration and
    ``recorded`` says whether an outcome was stored (False when the rollout
    is not in the configuration, a limit was reached, or the client was
    closed first)."""

    __slots__ = ("rollout", "arm", "version", "success", "latency_ms", "recorded", "_req",
                 "_ref", "_details", "_ended", "__weakref__")

    def __init__(self, rollout: str) -> None:
        self.rollout = rollout
        self.arm = Arm.BASELINE
        self.version = ""
        self.success: Optional[bool] = None  # set to decide instead of the exception
        self.latency_ms: Optional[_Float] = None
        self.recorded = False
        self._req = _native.Request()
        self._ref = byref(self._req)
        self._details = _native.RouteDetails()
        self._ended = False

    def details(self) -> RouteDetails:
        """Why the request went where it went (like route_details())."""
        return _route_details(self.rollout, self._details)

    def end(self, success: bool = True) -> bool:
        """Records the outcome (once; later calls do nothing); returns
        whether it was recorded."""
        if self._ended:
            return self.recorded
        self._ended = True
        rc = _request_end(self._ref, True if success else False)
        self.latency_ms = self._req.latency_ms
        self.recorded = rc == 0
        return self.recorded

    def _orphan(self) -> None:
        """The client is closing: forget its series, so end() records nothing
        and touches no freed memory."""
        self._req.series = None
        self._req.status = 8  # EUNAVAIL

    def __enter__(self) -> "Request":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.end(exc_type is None if self.success is None else self.success)

    def __repr__(self) -> str:
        return "<roost.Request %r arm %s%s>" % (
            self.rollout, self.arm.value,
            "" if self.latency_ms is None else " %.3f ms" % self.latency_ms)
