"""Building and loading the auditor's C kernels, and doing without them."""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.auditor import native


@pytest.fixture
def private_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of native.c in a directory of its own, so builds land there."""
    src = tmp_path / "pkg" / "native.c"
    src.parent.mkdir()
    shutil.copy(native.SOURCE, src)
    monkeypatch.setattr(native, "SOURCE", src)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    native.library.cache_clear()
    yield src.parent
    native.library.cache_clear()


def test_build_once_then_reuse(private_build: Path) -> None:
    first = native.build()
    assert first is not None
    assert first.parent == private_build
    assert first.name.startswith("_native-")
    mtime = first.stat().st_mtime_ns
    assert native.build() == first
    assert first.stat().st_mtime_ns == mtime  # not compiled again
    lib = native.library()
    assert lib is not None
    assert lib.nw_walk is not None


def test_a_changed_source_gets_a_new_build(private_build: Path) -> None:
    first = native.build()
    (private_build / "native.c").write_text(native.SOURCE.read_text() + "\n/* changed */\n")
    second = native.build()
    assert second is not None
    assert second != first


def test_read_only_package_builds_in_the_user_cache(
    private_build: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkstemp = tempfile.mkstemp

    def refuse_package_dir(prefix: str, suffix: str, dir: Path) -> tuple[int, str]:  # noqa: A002
        if Path(dir) == private_build:
            raise PermissionError(13, "read-only", str(dir))
        fd, name = real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", refuse_package_dir)
    built = native.build()
    assert built is not None
    assert built.parent == tmp_path / "cache" / "netwarden"


def test_without_a_compiler_the_python_loops_are_used(
    private_build: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native.library() is None
    assert "no C compiler" in caplog.text


def test_a_compile_error_is_reported_not_raised(
    private_build: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (private_build / "native.c").write_text("this is not C;\n")
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        assert native.build() is None
    assert "could not compile" in caplog.text
    assert not list(private_build.glob("*.so"))  # nothing half-written left behind


def test_disabled_by_the_environment(private_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(native.DISABLE_ENV, "1")
    assert native.library() is None


def test_the_build_is_readable_by_every_user(private_build: Path) -> None:
    built = native.build()
    assert built is not None
    assert built.stat().st_mode & 0o755 == 0o755  # a sensor running as another user loads it


def test_an_unloadable_build_is_replaced_by_one_in_the_user_cache(
    private_build: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cc = native._compiler()
    assert cc is not None
    broken = native._target(cc)[0]
    broken.write_bytes(b"not a shared object")
    with caplog.at_level(logging.WARNING, logger=native.__name__):
        built = native.build()
    assert built == tmp_path / "cache" / "netwarden" / broken.name
    assert "could not load" in caplog.text


def test_builds_of_earlier_sources_are_removed(private_build: Path) -> None:
    old = private_build / "_native-0123456789abcdef.so"
    old.write_bytes(b"an earlier build")
    built = native.build()
    assert built is not None
    assert not old.exists()
    assert [p.name for p in private_build.glob("_native-*.so")] == [built.name]


def test_cc_may_carry_arguments(private_build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CC", "env cc")  # like "ccache gcc"
    assert native.library() is not None


def test_the_source_compiles_without_any_warning(tmp_path: Path) -> None:
    cc = native._compiler()
    assert cc is not None
    done = subprocess.run(
        [
            *cc,
            *native._CFLAGS,
            "-Wextra",
            "-Werror",
            "-o",
            str(tmp_path / "x.so"),
            str(native.SOURCE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
