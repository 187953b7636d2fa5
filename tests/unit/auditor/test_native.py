"""Building and loading the auditor's C kernels, and doing without them."""

from __future__ import annotations

import logging
import shutil
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

    def refuse_package_dir(suffix: str, dir: Path) -> tuple[int, str]:  # noqa: A002
        if Path(dir) == private_build:
            raise PermissionError(13, "read-only", str(dir))
        fd, name = real_mkstemp(suffix=suffix, dir=dir)
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
