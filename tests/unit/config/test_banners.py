"""Banners in every IOS form read the same in normalisation, plan, drift and the audit.

Issue 11 point 14: ``banner exec ^CAuthorised use only^C`` (one line) made
``ios-intended-drift`` report 141 lines of drift, and placed last in the config
hier_config raised ``ValueError: we are still in a banner for some reason``. One
reader (:func:`netwarden.ios.normalize.read_banner`) now feeds every path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hier_config import Platform, get_hconfig

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Result, Status
from netwarden.compliance.sources import Artifact, Target
from netwarden.config.drift import unified
from netwarden.config.plan import remediation
from netwarden.ios.normalize import canonical, filtered, from_hier, read_banner
from netwarden.ios.parse import parse_ios

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden" / "jed-acc-sw1.cfg"

TEXT = ("Authorised use only",)
TWO = ("Authorised use only", "Disconnect now if you are not")

# Every form IOS accepts or shows, each with the text lines it holds.
FORMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "one-line-caret-c": ("banner exec ^CAuthorised use only^C", TEXT),
    "one-line-hash": ("banner exec #Authorised use only#", TEXT),
    "one-line-percent": ("banner exec %Authorised use only%", TEXT),
    "one-line-ctrl-c": ("banner exec \x03Authorised use only\x03", TEXT),
    "show-run-form": ("banner exec ^C\nAuthorised use only\n^C", TEXT),
    "typed-hash-alone": ("banner exec #\nAuthorised use only\n#", TEXT),
    "text-on-first-line": ("banner exec ^CAuthorised use only\n^C", TEXT),
    "closing-at-line-end": ("banner exec #\nAuthorised use only#", TEXT),
    "ignored-after-closing": ("banner exec #Authorised use only# trailing", TEXT),
    "two-lines-show-run": (
        "banner exec ^C\nAuthorised use only\nDisconnect now if you are not\n^C",
        TWO,
    ),
    "two-lines-typed": ("banner exec %Authorised use only\nDisconnect now if you are not%", TWO),
}
ONE_LINE = {k: v for k, v in FORMS.items() if v[1] == TEXT}
SHOW_RUN = "banner exec ^C\nAuthorised use only\n^C"
BASE = "hostname sw1\ninterface Vlan10\n ip address 10.0.0.2 255.255.255.0\nntp server 10.0.0.9\n"


def _config(banner: str, *, last: bool = False) -> str:
    return (BASE + banner + "\nend\n") if last else (banner + "\n" + BASE + "end\n")


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_every_form_reads_the_same_text(form: str) -> None:
    text, body = FORMS[form]
    lines = (text + "\nhostname after").splitlines()
    span = read_banner(lines, 0)
    assert span is not None
    assert (span.kind, span.body, span.closed) == ("exec", body, True)
    assert lines[span.end] == "hostname after"
    assert span.canonical() == ["banner exec ^C", *body, "^C"]
    # The audit's parser: same text, and the next command is a command again.
    cfg = parse_ios(text + "\nhostname after\n")
    assert cfg.banners["exec"].text == "\n".join(body)
    assert cfg.first("hostname after") is not None


@pytest.mark.parametrize("last", [False, True], ids=["first", "last"])
@pytest.mark.parametrize("form", ONE_LINE, ids=list(ONE_LINE))
def test_plan_and_drift_see_no_change_between_forms(form: str, last: bool) -> None:
    running = _config(SHOW_RUN, last=last)
    intended = _config(FORMS[form][0], last=last)
    assert canonical(running) == canonical(intended)
    assert remediation(running, intended) == ()
    assert remediation(intended, running) == ()
    assert unified(intended, running, "intended", "running") == ""


@pytest.mark.parametrize("form", FORMS, ids=list(FORMS))
def test_hier_config_round_trip(form: str) -> None:
    text, body = FORMS[form]
    for config in (_config(text), _config(text, last=True)):
        tree = get_hconfig(Platform.CISCO_IOS, filtered(config))
        dumped = [from_hier(line) for line in tree.dump_simple()]
        assert "\n".join(["banner exec ^C", *body, "^C"]) in dumped
        assert "ntp server 10.0.0.9" in dumped
        assert len(dumped) == 5  # banner, hostname, interface, its address, ntp


def test_a_changed_banner_is_one_command() -> None:
    running = _config("banner exec ^COld text^C", last=True)
    intended = _config(SHOW_RUN, last=True)
    assert remediation(running, intended) == ("banner exec ^C\nAuthorised use only\n^C",)
    assert remediation(running, BASE) == ("no banner exec",)


@pytest.mark.parametrize(
    "tricky",
    ["!", "%", "EOF", "^^^ restricted ^^^", "contains ^C inside", "banner motd inside", ""],
    ids=["bang", "percent", "eof", "carets", "caret-c", "banner-word", "empty"],
)
def test_text_lines_hier_config_would_take_for_the_end(tricky: str) -> None:
    banner = f"banner motd #\nfirst line\n{tricky}\nlast line\n#"
    lines = ("first line", tricky, "last line")
    tree = get_hconfig(Platform.CISCO_IOS, filtered(_config(banner, last=True)))
    assert "\n".join(["banner motd ^C", *lines, "^C"]) in [
        from_hier(line) for line in tree.dump_simple()
    ]
    assert remediation(_config(banner), _config(banner, last=True)) == ()
    changed = banner.replace("last line", "new last line")
    assert remediation(_config(banner), _config(changed)) == (
        "\n".join(["banner motd ^C", "first line", tricky, "new last line", "^C"]),
    )


def test_an_unclosed_banner_runs_to_the_end_without_raising() -> None:
    config = BASE + "banner motd #\nnever closed\n"
    span = read_banner(config.splitlines(), 4)
    assert span is not None
    assert (span.body, span.closed) == (("never closed",), False)
    assert remediation(config, config) == ()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def _result(engine: Engine, running: str, intended: str) -> Result:
    target = Target("sw1", "ios", Artifact("sw1.cfg", running))
    target.intended = Artifact("sw1.intended.cfg", intended)
    return next(r for r in engine.audit(target) if r.rule == "ios-intended-drift")


def _drift(engine: Engine, running: str, intended: str) -> tuple[Status, list[tuple[int, str]]]:
    got = _result(engine, running, intended)
    return got.status, [(e.line, e.note) for e in got.evidence]


@pytest.mark.parametrize("last", [False, True], ids=["first", "last"])
def test_the_reported_case_passes(engine: Engine, last: bool) -> None:
    """The golden config plus a one-line exec banner on both sides: no drift."""
    golden = GOLDEN.read_text(encoding="utf-8").replace("\nend\n", "\n")
    banner = "banner exec ^CAuthorised use only^C"
    running = golden + banner + "\nend\n" if last else banner + "\n" + golden + "end\n"
    assert _drift(engine, running, running) == (Status.PASS, [])
    shown = golden + SHOW_RUN + "\nend\n"
    assert _drift(engine, shown, running) == (Status.PASS, [])


def test_drift_fails_only_on_the_banner_that_differs(engine: Engine) -> None:
    golden = GOLDEN.read_text(encoding="utf-8").replace("\nend\n", "\n")
    intended = golden + "banner exec ^CAuthorised use only^C\nend\n"
    running = golden + "banner exec ^C\nAuthorised users only\n^C\nend\n"
    status, evidence = _drift(engine, running, intended)
    n = golden.count("\n") + 1
    assert status is Status.FAIL
    assert evidence == [
        (n, "banner exec differs from the intended one"),
        (n, "banner exec intended text"),
    ]
    shown = [(e.file, e.text) for e in _result(engine, running, intended).evidence]
    assert shown == [
        ("sw1.cfg", "banner exec ^CAuthorised users only^C"),
        ("sw1.intended.cfg", "banner exec ^CAuthorised use only^C"),
    ]
    missing = _drift(engine, golden + "end\n", intended)
    assert missing == (Status.FAIL, [(n, "banner exec missing from running")])
