"""Event and log delivery on a Python thread.

The C SDK calls its event and log callbacks on its own background thread
(the one that owns the connection and applies changes). A Python handler
must not run there: a slow handler would hold up configuration changes and
outcome reports, and one that calls client.close() would deadlock. So the
ctypes callbacks only copy the event into Python objects and append it to a
queue (SimpleQueue.put never blocks); a Python thread per client, the
dispatcher, takes events off the queue and calls the handlers, in order.

ctypes takes the GIL before running a callback on the C thread, so the C
thread does wait for the GIL for the length of the copy (at most one switch
interval, 5 ms by default, when Python threads are busy), never for a
handler.
"""
from __future__ import annotations

import ctypes
import logging
import queue
import threading
from typing import Callable, Dict, List, Optional, Union

from . import _native
from .errors import Status
from .types import EVENT_TYPES, STATES, Event, EventType

logger = logging.getLogger("roost")

Handler = Callable[[Event], None]

# The C SDK's log levels (roost_log_level) as logging levels.
_LOG_LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)

_STOP = object()

# Set while one of the callbacks below runs on the SDK's background thread.
# Python code can end up running there without being called for it: the
# garbage collector may run a finalizer during the callback's allocations,
# and a client must not be closed from its own background thread.
_callback = threading.local()


def in_sdk_callback() -> bool:
    """True on an SDK background thread, inside an event or log callback."""
    return getattr(_callback, "active", False)


def _status(code: int) -> Status:
    try:
        return Status(code)
    except ValueError:  # a newer C SDK's code
        return Status.EINTERNAL


def _strings(array, n: int) -> tuple:
    if not n or not array:
        return ()
    return tuple(array[i].decode("utf-8", "replace") for i in range(n))


class Dispatcher:
    """Owns the queue, the handlers and the thread that calls them."""

    def __init__(self, name: str) -> None:
        self._queue: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._handlers: Dict[EventType, List[Handler]] = {t: [] for t in EventType}
        self._mu = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        # The C function pointers handed to roost_client_options. They must
        # stay alive as long as the C client can call them, which the
        # client guarantees by keeping this object until close returns.
        self.event_fn = _native.EVENT_FN(self._on_event)
        self.log_fn = _native.LOG_FN(self._on_log)

    # ---- registration (any thread)

    def add(self, type_: EventType, handler: Handler) -> None:
        with self._mu:
            self._handlers[type_] = self._handlers[type_] + [handler]

    def remove(self, type_: EventType, handler: Handler) -> None:
        with self._mu:
            handlers = list(self._handlers[type_])
            handlers.remove(handler)  # ValueError when it was not registered
            self._handlers[type_] = handlers

    # ---- the C side: runs on the SDK's background thread, GIL taken by ctypes

    def _on_event(self, user: Optional[int], ptr: "ctypes._Pointer[_native.Event]") -> None:
        # Copy everything now: the C event is only valid during this call.
        _callback.active = True
        try:
            ev = ptr.contents
            type_ = EVENT_TYPES[ev.type] if 0 < ev.type < len(EVENT_TYPES) else None
            if type_ is None:
                return  # a newer SDK's event type this package does not know
            self._queue.put(Event(
                type=type_,
                state=STATES[ev.state] if 0 <= ev.state < len(STATES) else STATES[0],
                revision=ev.revision,
                from_cache=bool(ev.from_cache),
                message=(ev.message or b"").decode("utf-8", "replace"),
                status=_status(ev.status) if type_ is EventType.ERROR else None,
                keys=_strings(ev.keys, ev.nkeys),
                rollouts=_strings(ev.rollouts, ev.nrollouts),
                probes=_strings(ev.probes, ev.nprobes),
                experiments=_strings(ev.experiments, ev.nexperiments),
            ))
        except BaseException:  # never let anything unwind into C
            logger.exception("roost: could not queue an event")
        finally:
            _callback.active = False

    def _on_log(self, user: Optional[int], level: int, line: Optional[bytes]) -> None:
        _callback.active = True
        try:
            self._queue.put((level, (line or b"").decode("utf-8", "replace")))
        except BaseException:
            pass
        finally:
            _callback.active = False

    # ---- the Python side

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, tuple):
                level, line = item
                logger.log(_LOG_LEVELS[level] if 0 <= level < 4 else logging.ERROR, "%s", line)
                continue
            assert isinstance(item, Event)
            for handler in self._handlers[item.type]:
                try:
                    handler(item)
                except Exception:
                    logger.exception("roost: %s handler %r raised", item.type.value, handler)

    def stop(self, timeout: Optional[float]) -> None:
        """Delivers what is queued, then ends the thread (unless called from it)."""
        self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def thread(self) -> threading.Thread:
        return self._thread


def event_type(value: Union[EventType, str]) -> EventType:
    """EventType from an EventType or its name ("READY", "configuration_changed")."""
    if isinstance(value, EventType):
        return value
    try:
        return EventType(str(value).upper())
    except ValueError:
        raise ValueError("unknown event type %r; one of %s"
                         % (value, ", ".join(t.value for t in EventType))) from None
