"""netwarden.signals: SIGINT and SIGTERM as one graceful stop (real signals to this process)."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref

import pytest

from netwarden.signals import GracefulStop, serve_until_stopped

WAIT = 10.0  # upper bound of a wait, never asserted on

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be installed from the main thread",
)


def _deliver(sig: signal.Signals) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(0)  # the handler runs at the next bytecode boundary of the main thread


def _signalled_twice(sig: signal.Signals, stopped: threading.Event) -> None:
    with GracefulStop(stopped.set) as guard:
        _deliver(sig)
        assert stopped.wait(WAIT)  # called, from a helper thread
        assert guard.received == sig
        _deliver(sig)  # the second one: abandon what is in hand
        time.sleep(WAIT)  # interrupted long before this ends


def _signalled_unarmed() -> None:
    with GracefulStop():
        _deliver(signal.SIGTERM)
        time.sleep(WAIT)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_first_signal_stops_second_interrupts(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    stopped = threading.Event()
    with pytest.raises(KeyboardInterrupt):
        _signalled_twice(sig, stopped)
    assert stopped.is_set()
    assert signal.getsignal(sig) == before  # restored


def test_unarmed_raises_then_armed_stops() -> None:
    with pytest.raises(KeyboardInterrupt):
        _signalled_unarmed()
    stopped = threading.Event()
    with GracefulStop() as guard:
        guard.arm(stopped.set)
        _deliver(signal.SIGTERM)
        assert stopped.wait(WAIT)


class _Referent:
    """Something a weakref can point at (an ``object()`` cannot be weakly referenced)."""


def test_a_signal_lost_in_a_callback_is_raised_at_arm_without_a_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The interpreter cannot raise out of a weakref callback (an import's module lock
    uses one): the KeyboardInterrupt is "ignored" there; the setup must still stop."""
    armed = threading.Event()
    with GracefulStop() as guard:
        referent = _Referent()
        ref = weakref.ref(referent, lambda _: signal.raise_signal(signal.SIGTERM))
        del referent  # the callback runs here; its KeyboardInterrupt cannot propagate
        assert ref() is None
        assert guard.received == signal.SIGTERM  # it came, and nothing was raised here
        with pytest.raises(KeyboardInterrupt):
            guard.arm(armed.set)
    assert not armed.is_set()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "Exception ignored" not in captured.err + captured.out


def test_other_unraisable_errors_still_reach_the_previous_hook() -> None:
    seen: list[type[BaseException]] = []
    previous = sys.unraisablehook

    def mine(unraisable: sys.UnraisableHookArgs) -> None:
        seen.append(type(unraisable.exc_value))

    sys.unraisablehook = mine
    try:
        with GracefulStop():
            assert sys.unraisablehook is not mine

            class Broken:
                def __del__(self) -> None:
                    raise ValueError("from __del__")

            Broken()
        assert seen == [ValueError]
        assert sys.unraisablehook is mine  # the guard's own hook until the block ended
    finally:
        sys.unraisablehook = previous


def test_a_service_waits_for_the_signal_then_closes_everything_in_order() -> None:
    closed: list[str] = []

    def failing() -> None:
        closed.append("server")
        raise OSError("already gone")

    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    with pytest.raises(OSError, match="already gone"):  # the closer's failure is not hidden
        serve_until_stopped(failing, lambda: closed.append("prober"))
    timer.join()
    assert closed == ["server", "prober"]  # the second closer ran though the first failed
    assert signal.getsignal(signal.SIGTERM) == before  # restored
