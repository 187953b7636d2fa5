"""netwarden.signals: SIGINT and SIGTERM as one graceful stop (real signals to this process)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from netwarden.signals import GracefulStop

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
