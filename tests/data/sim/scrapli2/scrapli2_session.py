"""Drive one simulated device with scrapli 2.x; run by tests/integration/test_scrapli2.py.

Runs in .venv-scrapli2 (scrapli 2.x installs the same ``scrapli`` module as the 1.x in
.venv), as ``python scrapli2_session.py PARAMS.json``. PARAMS (a 0600 file: it holds the
lab's generated credentials) names the device, the transport (``bin``: OpenSSH;
``ssh2``: libssh2 inside libscrapli), the known_hosts file and the scenario. The outcome
is one JSON object on stdout; the test asserts on it and on the device's state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _cli(params: dict[str, Any]) -> Any:
    from scrapli import (  # the 2.x API
        AuthOptions,
        Cli,
        LookupKeyValue,
        SessionOptions,
        TransportBinOptions,
        TransportSsh2Options,
    )

    transport = (
        TransportBinOptions(known_hosts_path=params["known_hosts"], enable_strict_key=True)
        if params["transport"] == "bin"
        else TransportSsh2Options(known_hosts_path=params["known_hosts"])
    )
    return Cli(
        params["host"],
        port=params["port"],
        definition_file_or_name="cisco_iosxe",
        auth_options=AuthOptions(
            username=params["username"],
            password=params["password"],
            lookups=[LookupKeyValue("enable", params["enable"])],
        ),
        session_options=SessionOptions(operation_timeout_s=30),
        transport_options=transport,
    )


def session(params: dict[str, Any]) -> dict[str, Any]:
    """open, send_input, send_inputs in config mode, enter_mode, send_prompted_input, close."""
    cli = _cli(params)
    out: dict[str, Any] = {}
    cli.open()
    out["open_prompt"] = cli.get_prompt().result
    version = cli.send_input("show version")
    out["version"] = {"failed": version.failed, "result": version.result}
    out["privilege"] = cli.send_input("show privilege").result
    bogus = cli.send_input("show bogus")
    out["bogus"] = {"failed": bogus.failed, "indicator": bogus.results_failed_indicator}
    port = params["interface"]
    lines = [f"interface {port}", "description first", "frobnicate the port", "description second"]
    configs = cli.send_inputs(
        lines, requested_mode="configuration", stop_on_indicated_failure=False
    )
    out["configs"] = {
        "failed": configs.failed,
        "inputs": configs.inputs,
        "results": configs.results,
        "prompt_after": cli.get_prompt().result,
    }
    stopped = cli.send_inputs(
        [f"interface {port}", "frobnicate again", "description never"],
        requested_mode="configuration",
    )
    out["stopped"] = {
        "failed": stopped.failed,
        "inputs": stopped.inputs,
        "prompt_after": cli.get_prompt().result,
    }
    cli.enter_mode("privileged_exec")
    out["priv_prompt"] = cli.get_prompt().result
    cli.enter_mode("exec")
    out["exec_prompt"] = cli.get_prompt().result
    cli.enter_mode("privileged_exec")  # enable, Password:, the "enable" lookup
    out["enabled_prompt"] = cli.get_prompt().result
    copied = cli.send_prompted_input(
        f"copy running-config {params['file']}",
        prompt="",
        prompt_pattern=r"Destination filename \[\S+\]\?",
        response="",
    )
    out["prompted"] = {"failed": copied.failed, "result": copied.result}
    out["after_prompted"] = cli.send_input("show privilege").result
    cli.close()
    out["closed"] = True
    return out


def wrong_key(params: dict[str, Any]) -> dict[str, Any]:
    """Open with a known_hosts file that does not hold the device's key: it must fail."""
    cli = _cli(params)
    try:
        cli.open()
    except Exception as exc:  # noqa: BLE001 - the outcome is reported, whatever its type
        return {"opened": False, "error": type(exc).__name__, "message": str(exc)}
    cli.close()
    return {"opened": True}


def main() -> int:
    params = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    outcome = {"session": session, "wrong_key": wrong_key}[params["scenario"]](params)
    sys.stdout.write(json.dumps(outcome) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
