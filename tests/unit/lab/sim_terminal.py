"""A simulated device and its IOS command line, driven without SSH (test helper, not a test module)."""

from __future__ import annotations

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.session import CliSession
from netwarden.lab.sim.specs import synthetic_spec


def sim_device(access_ports: int = 4) -> SimDevice:
    """Synthetic switch ``sim-sw002`` (password ``pw``, enable secret ``en``); stop it after use."""
    return SimDevice(
        synthetic_spec(2, password="pw", enable_secret="en", access_ports=access_ports)
    )


class Terminal:
    """A :class:`CliSession` on ``device``; what it writes is returned with CRLF as LF."""

    def __init__(self, device: SimDevice) -> None:
        self.out: list[str] = []
        self.raw = ""  # the last answer as sent (CRLF line ends), for a terminal model
        self.dropped = False
        self.session = CliSession(
            device, "netwarden", "127.0.0.5", write=self.out.append, drop=self._drop
        )
        self.session.start()

    def _drop(self) -> None:
        self.dropped = True

    def keys(self, text: str) -> str:
        """Type ``text`` as it is (no Return added); what the terminal shows in answer."""
        self.out.clear()
        self.session.feed(text)
        self.raw = "".join(self.out)
        return self.raw.replace("\r\n", "\n")

    def type(self, line: str) -> str:
        """Type ``line`` and Return."""
        return self.keys(line + "\r")

    def enable(self) -> Terminal:
        """``enable`` with the secret ``en``: privilege 15."""
        self.type("enable")
        self.type("en")
        return self
