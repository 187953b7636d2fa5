"""SIGINT and SIGTERM as one graceful stop for long-running commands.

systemd, Docker and Kubernetes stop a service with SIGTERM; a terminal sends
SIGINT. Python turns SIGINT into ``KeyboardInterrupt`` and leaves SIGTERM to the
default action, which kills the process (exit status 143) without running
``finally`` blocks: whatever a command flushes at the end (open incidents, a state
file, a temporary directory) is lost. :class:`GracefulStop` gives both signals the
same meaning:

- once armed with a ``stop`` callable, the first signal calls it (from a helper
  thread, so that a ``stop`` taking a lock the interrupted code holds cannot
  deadlock) and the command winds down through its normal path;
- before it is armed, or at the second signal, it raises ``KeyboardInterrupt``
  in the main thread: the command's ``except KeyboardInterrupt`` / ``finally``
  code runs, as for Ctrl-C;
- at the third signal the default action is restored and applied (a stuck
  process can always be stopped).

A ``KeyboardInterrupt`` raised while the interpreter runs a callback it cannot
propagate from (a weakref callback during an import, a ``__del__``) is printed as
"Exception ignored" and lost: the setup would go on as if no signal had come. The
guard keeps that trace off the terminal and remembers the signal: :meth:`arm`
raises ``KeyboardInterrupt`` for a signal that came before it, so a stop asked for
while setting up is never lost.

Outside the main thread (tests running a command in a thread) it does nothing.
:func:`deferred_signals` holds both signals for a step that must not be cut in
two (create a temporary directory *and* register its removal).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def deferred_signals(signals: tuple[signal.Signals, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Hold ``signals`` (blocked in this thread) until the block ends, then deliver them.

    Examples:
        >>> with deferred_signals():
        ...     pass  # e.g. tempfile.TemporaryDirectory(): the directory and its cleanup
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class GracefulStop:
    """Context manager installing the SIGINT/SIGTERM handlers described in the module docstring.

    Args:
        stop: called (once, from a helper thread) at the first signal; None raises
            ``KeyboardInterrupt`` instead until :meth:`arm` is called.
        signals: the signals to handle.

    Examples:
        >>> stopped = threading.Event()
        >>> with GracefulStop(stopped.set) as guard:
        ...     pass  # a run; a signal meanwhile would call stopped.set()
        >>> guard.received is None, guard.count
        (True, 0)
    """

    def __init__(
        self,
        stop: Callable[[], None] | None = None,
        signals: tuple[signal.Signals, ...] = STOP_SIGNALS,
    ) -> None:
        self._stop = stop
        self._signals = signals
        self._previous: dict[signal.Signals, Any] = {}
        self._unraisable: Any = None
        self.received: signal.Signals | None = None
        self.count = 0

    def arm(self, stop: Callable[[], None]) -> None:
        """From now on the first signal calls ``stop`` rather than raising.

        Raises:
            KeyboardInterrupt: a signal came before, and its ``KeyboardInterrupt``
                was lost (module docstring): the setup stops here.
        """
        if self.received is not None and self._stop is None:
            raise KeyboardInterrupt(self.received.name)
        self._stop = stop

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
            self._unraisable = sys.unraisablehook
            sys.unraisablehook = self._swallowed
        return self

    def _swallowed(self, unraisable: Any) -> None:
        """Our own ``KeyboardInterrupt``, lost in a callback: no trace; :meth:`arm` raises it."""
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and self.received is not None:
            logger.debug("%s arrived inside a callback; stopping at the next step", self.received)
            return
        (self._unraisable or sys.__unraisablehook__)(unraisable)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        self._previous.clear()
        if self._unraisable is not None:
            sys.unraisablehook = self._unraisable
            self._unraisable = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        del frame
        sig = signal.Signals(signum)
        self.count += 1
        self.received = self.received or sig
        if self.count == 1 and self._stop is not None:
            logger.info("%s: stopping (send it again to stop at once)", sig.name)
            threading.Thread(target=self._stop, name=f"{sig.name}-stop", daemon=True).start()
            return
        if self.count >= 3:
            logger.warning("%s again: giving up on a clean stop", sig.name)
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)
            return
        raise KeyboardInterrupt(sig.name)


def serve_until_stopped(*closers: Callable[[], None]) -> None:
    """Block a service command until SIGINT or SIGTERM, then call ``closers`` in order.

    The loop of every long-running server command (``exporter serve``, ``exporter
    access``): the first signal ends the wait through :class:`GracefulStop`, a second
    one interrupts it at once; the closers run either way, each even when an earlier one
    fails.
    """
    stop = threading.Event()
    try:
        with GracefulStop(stop.set):
            while not stop.wait(1.0):
                pass
    except KeyboardInterrupt:
        logger.info("interrupted again: stopping now")
    finally:
        _close_all(closers)


def _close_all(closers: tuple[Callable[[], None], ...]) -> None:
    if not closers:
        return
    try:
        closers[0]()
    finally:
        _close_all(closers[1:])
