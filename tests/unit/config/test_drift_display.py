"""Diffs shown to people are sanitised; the comparison itself still sees secret changes."""

from __future__ import annotations

from netwarden.config.drift import unified


def test_changed_key_is_drift_but_not_shown() -> None:
    intended = "hostname a\ntacacs server hq\n key 7 0822455D0A16\n"
    running = "hostname a\ntacacs server hq\n key 7 0822455D0A17\n"
    diff = unified(intended, running, "intended/a", "running/a")
    assert diff, "a changed key is drift"
    assert "0822455D0A1" not in diff
    assert "- key 7 <removed>" in diff.splitlines()
    assert "+ key 7 <removed>" in diff.splitlines()


def test_equal_configs_have_no_diff() -> None:
    text = "hostname a\nenable secret 9 $9$x$y\n"
    assert unified(text, text, "a", "b") == ""
