"""``_fail``: every command's ``error:`` line prints its message verbatim, brackets and all."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from netwarden.cli import app
from netwarden.cli_common import EXIT_FINDINGS, EXIT_USAGE, _fail

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
    assert "error: no ios device matches --limit 'sw[ab]'" in res.output
