"""``_fail``: every command's ``error:`` line prints its message verbatim, brackets and all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_FINDINGS, EXIT_USAGE, _fail

runner = CliRunner()


@pytest.mark.parametrize(
    "message",
    [
        "cannot reach [::1]:22",
        "no ios device matches --limit 'sw[ab]'",
        "a Rich-like [bold]tag[/bold] stays text",
        "a lone closing tag [/] is no MarkupError",
        "[link=http://x]not a link[/link]",
        "a trailing backslash C:\\configs\\",
        "a backslash before a tag \\[bold]x",
        "no emoji: status :ok: on fe80::1:cafe:",
    ],
)
def test_fail_prints_the_message_verbatim(message: str, capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = _fail(message)
    assert isinstance(exit_, typer.Exit)
    assert exit_.exit_code == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n"
    assert captured.out == ""


def test_fail_keeps_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert _fail("sw[ab]", EXIT_FINDINGS).exit_code == EXIT_FINDINGS
    assert capsys.readouterr().err == "error: sw[ab]\n"


def test_render_limit_with_brackets_is_echoed_verbatim(example_inventory: Path) -> None:
    res = runner.invoke(app, ["render", "-i", str(example_inventory), "--limit", "sw[ab]"])
    assert res.exit_code == EXIT_USAGE
    assert "error: --limit 'sw[ab]': 'sw[ab]' matches no device, site or group" in res.output


# issue 11 point 5: a --limit that selects devices render does not handle says so


def _render(inventory: Path, out: Path, limit: str, *extra: str) -> tuple[int, str, str]:
    res = runner.invoke(
        app, ["render", "-i", str(inventory), "-o", str(out), "--limit", limit, *extra]
    )
    return res.exit_code, res.stdout, res.stderr


ISSUE_15 = (
    "render handles ios and nftables firewall devices only (linux servers: configured by "
    "playbooks/servers.yml, read by audit, backup and drift; linux sensors: no session yet)"
)


def test_render_a_linux_server_names_its_platform(example_inventory: Path, tmp_path: Path) -> None:
    code, out, err = _render(example_inventory, tmp_path / "out", "nyc-srv1")
    assert code == EXIT_USAGE
    assert out == ""
    assert err == f"error: nyc-srv1 is a linux device (server); {ISSUE_15}\n"
    assert "no ios device matches" not in err
    assert not (tmp_path / "out").exists()


def test_render_a_firewall_writes_its_nftables_ruleset(
    example_inventory: Path, tmp_path: Path
) -> None:
    code, out, err = _render(example_inventory, tmp_path / "out", "nyc-fw1", "--json")
    assert code == 0, err
    assert [c["device"] for c in json.loads(out)["configs"]] == ["nyc-fw1"]
    text = (tmp_path / "out" / "nyc-fw1.nft").read_text()
    assert text.splitlines()[3] == "flush ruleset"
    assert "table inet netwarden {" in text


def test_render_a_limit_of_linux_devices_only_lists_them(
    example_inventory: Path, tmp_path: Path
) -> None:
    code, _, err = _render(example_inventory, tmp_path / "out", "servers,nyc-sensor1")
    assert code == EXIT_USAGE
    flat = " ".join(err.split())
    assert flat.startswith("error: --limit 'servers,nyc-sensor1' selects ")
    assert "bru-srv1 (server), gva-srv1 (server)" in flat
    assert flat.endswith(ISSUE_15)


def test_render_a_mixed_limit_renders_the_ios_devices_and_says_what_it_left_out(
    example_inventory: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out, err = _render(example_inventory, out_dir, "nyc", "--json")
    assert code == 0, err
    rendered = json.loads(out)  # stdout stays machine-readable: the note is on stderr
    assert [c["device"] for c in rendered["configs"]] == ["nyc-acc-sw1", "nyc-acc-sw2", "nyc-fw1"]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "nyc-acc-sw1.cfg",
        "nyc-acc-sw2.cfg",
        "nyc-fw1.nft",
    ]
    flat = " ".join(err.split())
    assert flat == (
        "note: --limit 'nyc': left out 2 linux devices: "
        f"nyc-sensor1 (sensor), nyc-srv1 (server); {ISSUE_15}"
    )


def test_render_without_a_limit_leaves_linux_devices_out_silently(
    example_inventory: Path, tmp_path: Path
) -> None:
    res = runner.invoke(app, ["render", "-i", str(example_inventory), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert len(list(tmp_path.glob("*.cfg"))) == 10
    assert len(list(tmp_path.glob("*.nft"))) == 5
