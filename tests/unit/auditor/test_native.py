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
            *native._LIBS,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


_OOM_HARNESS = r"""
/* Every allocation of a scripted run of the scan tables fails once, in turn: each API
 * call must then report it (-1 or *oom) and leave a table that later calls use safely. */
#include <stdio.h>
#include <stdlib.h>
static long calls, fail_at = -1;
static void *t_malloc(size_t n) { return ++calls == fail_at ? NULL : malloc(n); }
static void *t_calloc(size_t k, size_t n) { return ++calls == fail_at ? NULL : calloc(k, n); }
static void *t_realloc(void *p, size_t n) { return ++calls == fail_at ? NULL : realloc(p, n); }
#define malloc t_malloc
#define calloc t_calloc
#define realloc t_realloc
#include NATIVE_C
#undef malloc
#undef calloc
#undef realloc

static int script(void) {
    int oom = 0;
    int32_t flag;
    void *p = nw_pend_new();
    if (p) {
        static uint64_t pair[400], opair[400];
        static uint16_t port[400], oport[400];
        static double ts[400], ots[400];
        static uint8_t hit[400];
        for (int k = 0; k < 400; k++) {
            pair[k] = (uint64_t)(k % 7) << 32 | (uint64_t)(k * 13 % 97);
            port[k] = (uint16_t)(k * 31);
            ts[k] = k * 0.01;
        }
        for (int round = 0; round < 3; round++) {
            nw_pend_syns(p, pair, port, ts, 400, 150, opair, oport, ots, &flag);
            oom |= flag;
            nw_pend_answer(p, pair + 100, port + 100, 50, hit);
            nw_pend_expire(p, 2.0 + round, 1.0, opair, oport, ots, nw_pend_len(p));
            nw_pend_items(p, opair, oport, ots);
        }
        nw_pend_free(p);
    } else {
        oom = 1;
    }
    void *t = nw_as_new(100, 100, 3, 10.0);
    if (t) {
        static uint32_t sc[1000], vi[1000], pp[1000];
        static double when[1000];
        static NwScanSnap out[1000];
        double floor;
        for (int k = 0; k < 1000; k++) {
            sc[k] = (uint32_t)(k * 7 % 150);
            vi[k] = (uint32_t)(k * 11 % 130);
            pp[k] = (uint32_t)((k % 2 ? 6 : 17) << 16 | (k % 3));
            when[k] = k * 0.05;
        }
        for (int round = 0; round < 2; round++) {
            nw_as_failed(t, sc, vi, pp, when, 300, 0, out, &flag);
            oom |= flag;
            nw_as_failed(t, sc + 300, vi + 300, pp + 300, when + 300, 700, 1, out, &flag);
            oom |= flag;
            nw_as_take_changed(t, out, &floor);
            nw_as_snapshot(t, sc[0], out);
            nw_as_drop_idle(t, 55.0 + round * 100, out, &floor);
        }
        nw_as_free(t);
    } else {
        oom = 1;
    }
    return oom;
}

int main(void) {
    script();
    long total = calls, reported = 0;
    for (fail_at = 1; fail_at <= total; fail_at++) {
        calls = 0;
        reported += script();
    }
    printf("%ld %ld\n", total, reported);
    return 0;
}
"""


def test_the_scan_tables_survive_every_allocation_failure(tmp_path: Path) -> None:
    """native.c's pending-attempt and scanner tables, with each allocation of a run failing
    in turn: no crash (a NULL left behind would be used by the next call), and the failure
    is reported to the caller (MemoryError in Python)."""
    cc = native._compiler()
    if cc is None:
        pytest.skip("no C compiler")
    harness = tmp_path / "oom.c"
    harness.write_text(_OOM_HARNESS)
    exe = tmp_path / "oom"
    subprocess.run(
        [
            *cc,
            "-O1",
            "-std=c11",
            f'-DNATIVE_C="{native.SOURCE}"',
            "-o",
            str(exe),
            str(harness),
            *native._LIBS,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    total, reported = map(int, run.stdout.split())
    assert total > 50  # the tables grew many times
    assert reported > total // 2  # most failures reached the caller (some only free memory)
