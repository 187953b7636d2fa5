"""``python -m netwarden.lab.sim``: the simulator without the netwarden CLI (for debugging).

The product entry point is ``netwarden lab sim``, which calls :func:`run_sim` too.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from netwarden.lab.sim.fleet import SimFleet, run_sim

logger = logging.getLogger(__name__)


def _ready(fleet: SimFleet, known_hosts: Path) -> None:
    logger.info(
        "%d simulated devices listening; lab inventory in %s (known hosts: %s)",
        len(fleet.devices),
        known_hosts.parent,
        known_hosts.name,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netwarden.lab.sim")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("-i", "--inventory", type=Path)
    source.add_argument("--devices", type=int)
    parser.add_argument("--out", type=Path, default=Path("lab"))
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument(
        "--own-addresses",
        action="store_true",
        help="each device on its management address, port 22 (only inside a lab network namespace)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return run_sim(
        inventory=args.inventory,
        devices=args.devices,
        out=args.out,
        time_scale=args.time_scale,
        address=args.address,
        ready=_ready,
        own_addresses=args.own_addresses,
    )


if __name__ == "__main__":
    sys.exit(main())
