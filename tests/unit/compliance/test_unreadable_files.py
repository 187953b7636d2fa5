"""Files that are not configs are reported as unreadable, never audited (issue 11 point 4).

An executable or a random file in ``audit --configs DIR`` used to be audited as
an IOS config and passed every rule that looks for something absent
(``ios-no-http-server``). Now: not text, or not the platform's shape, is
unreadable with the reason; every rule of it is ``error``, it counts in no
score, it is listed in the report's "could not be read" section and the run
exits 1, like a live device that cannot be read (decision 17).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.history import overall, posture_by_site
from netwarden.compliance.models import Status
from netwarden.compliance.report import write_reports
from netwarden.compliance.sniff import MAX_INVALID_UTF8, NotAConfig, shape_problem, text_of
from netwarden.compliance.sources import FolderSource

from .conftest import DATA

BASELINE = (DATA / "ios" / "_baseline.cfg").read_bytes()

# file name -> (content, words the reason must contain)
NOT_CONFIGS: dict[str, tuple[bytes, str]] = {
    "elf-tool": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "NUL byte at offset 7"),
    "random.bin": (random.Random(7).randbytes(4096), "not a text file"),  # noqa: S311  (test data)
    "utf16.cfg": ("hostname sw1\ninterface Vlan1\n".encode("utf-16"), "NUL byte"),
    "latin1.cfg": (("é" * 200 + "\nhostname sw1\n").encode("latin-1"), "are not UTF-8"),
    "controls.cfg": (b"hostname sw1\n" + b"\x1b\x02\x07" * 50, "control characters"),
    "readme.txt": (b"# Notes\n\nThese are notes, not a config.\n", "does not look like an IOS"),
    "empty.cfg": (b"", "does not look like an IOS"),
    "startup-only.startup.cfg": (BASELINE, "no running config beside it"),
}


def _folder(tmp: Path, files: dict[str, bytes]) -> Path:
    d = tmp / "configs"
    d.mkdir()
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


@pytest.mark.parametrize("name", NOT_CONFIGS, ids=list(NOT_CONFIGS))
def test_a_file_that_is_not_a_config_is_unreadable_with_the_reason(
    tmp_path: Path, engine: Engine, name: str
) -> None:
    data, reason = NOT_CONFIGS[name]
    run = engine.run(FolderSource(_folder(tmp_path, {name: data, "good.cfg": BASELINE})))
    by_name = {d.name: d for d in run.devices}
    device = name.split(".", maxsplit=1)[0]
    assert reason in by_name[device].error
    assert by_name["good"].error == ""
    mine = [r for r in run.results if r.device == device]
    assert mine
    assert {r.status for r in mine} == {Status.ERROR}
    assert all(reason in r.message for r in mine)
    assert run.unread == {device}
    assert run.exit_code == 1
    # counted in no score: the good config alone makes the posture
    good = overall(r for r in run.results if r.device == "good")
    assert overall(run.results, run.unread).score == good.score


def test_an_executable_no_longer_passes_rules(tmp_path: Path, engine: Engine) -> None:
    """The reported case: a binary got ``pass`` on ios-no-http-server."""
    run = engine.run(FolderSource(_folder(tmp_path, {"tool": NOT_CONFIGS["elf-tool"][0]})))
    assert not [r for r in run.results if r.status is Status.PASS]
    http = next(r for r in run.results if r.rule == "ios-no-http-server")
    assert http.status is Status.ERROR


@pytest.mark.parametrize(
    "data",
    [
        BASELINE.replace(b"hostname", b"! caf\xe9 Gen\xe8ve\nhostname", 1),  # two Latin-1 bytes
        BASELINE.replace(b"^C", b"\x03"),  # banners with a literal Ctrl-C delimiter
        b"\xef\xbb\xbf" + BASELINE,  # a UTF-8 byte order mark
        BASELINE.replace(b"\n", b"\r\n"),  # CRLF line ends
    ],
    ids=["few-latin1-bytes", "ctrl-c-banner", "bom", "crlf"],
)
def test_real_configs_stay_readable(tmp_path: Path, engine: Engine, data: bytes) -> None:
    run = engine.run(FolderSource(_folder(tmp_path, {"sw1.cfg": data})))
    assert run.unread == frozenset()
    assert any(r.status is Status.PASS for r in run.results)


def test_an_empty_startup_config_is_a_config_never_saved(tmp_path: Path, engine: Engine) -> None:
    run = engine.run(FolderSource(_folder(tmp_path, {"sw1.cfg": BASELINE, "sw1.startup.cfg": b""})))
    assert run.unread == frozenset()
    saved = next(r for r in run.results if r.rule == "ios-running-equals-startup")
    assert saved.status is Status.FAIL


def test_a_binary_startup_config_makes_the_device_unreadable(
    tmp_path: Path, engine: Engine
) -> None:
    files = {"sw1.cfg": BASELINE, "sw1.startup.cfg": b"\x00\x01"}
    run = engine.run(FolderSource(_folder(tmp_path, files)))
    [device] = run.devices
    assert "sw1.startup.cfg: not a text file" in device.error


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("fw1.json", b"\x00\x01\x02", "not a text file"),
        ("fw1.json", b"hello", "cannot parse"),
        ("fw1.json", b'{"something": []}', "`nftables` list"),
        ("srv1.linux", b"just text\n", "no `#@ <section>` header"),
    ],
    ids=["nftables-binary", "nftables-not-json", "nftables-other-json", "linux-no-sections"],
)
def test_other_platforms_too(
    tmp_path: Path, engine: Engine, name: str, data: bytes, reason: str
) -> None:
    run = engine.run(FolderSource(_folder(tmp_path, {name: data})))
    [device] = run.devices
    assert reason in device.error
    assert {r.status for r in run.results} == {Status.ERROR}
    assert run.exit_code == 1


def test_a_linux_folder_without_any_expected_file(tmp_path: Path, engine: Engine) -> None:
    d = tmp_path / "configs"
    (d / "srv1").mkdir(parents=True)
    (d / "srv1" / "random.txt").write_text("x")
    run = engine.run(FolderSource(d, "linux"))
    [device] = run.devices
    assert "none of the expected files (sshd-T.txt" in device.error


def test_unreadable_files_are_in_the_reports(tmp_path: Path, engine: Engine) -> None:
    files = {"tool": NOT_CONFIGS["elf-tool"][0], "good.cfg": BASELINE}
    run = engine.run(FolderSource(_folder(tmp_path, files)))
    written = write_reports(run, tmp_path / "out", ["html", "json"])
    html = written["html"].read_text(encoding="utf-8")
    section = html[html.index("Devices that could not be read") :]
    assert "tool: not a text file (NUL byte at offset 7)" in section
    doc = json.loads(written["json"].read_text(encoding="utf-8"))
    assert [d["name"] for d in doc["devices"] if d["error"]] == ["tool"]
    sites = posture_by_site(run.results, run.unread)
    assert sites["unknown"].unread  # "tool", counted apart
    assert sites["unknown"].score is not None  # "good" is at the unknown site too


def test_text_checks_name_the_file() -> None:
    with pytest.raises(NotAConfig, match=r"^x\.cfg: not a text file \(NUL byte at offset 0\)$"):
        text_of(b"\x00", "x.cfg")
    few = b"hostname a\n" * 100 + b"\xff"
    assert text_of(few, "x.cfg").endswith("\ufffd")
    assert MAX_INVALID_UTF8 * len(few) >= 1
    assert shape_problem("ios", "interface Vlan1\n") is None
    assert shape_problem("nftables", "anything") is None


def test_a_rendered_nft_ruleset_says_what_the_nftables_pack_reads(tmp_path: Path) -> None:
    """`netwarden render` writes firewalls as `nft -f` text; the pack reads `nft -j` JSON."""
    (tmp_path / "nyc-fw1.nft").write_text("flush ruleset\ntable inet netwarden {\n}\n")
    (target,) = FolderSource(tmp_path).targets()
    assert target.platform == "nftables"
    assert target.error is not None
    assert "nft -j list ruleset" in target.error
    assert "nyc-fw1.json" in target.error
