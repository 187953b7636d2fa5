"""An installed wheel renders: the templates and role defaults travel as package data.

The wheel is built from a copy of the sources (so nothing is written into the
checkout), installed into a fresh venv whose third-party dependencies come from
the project's .venv (a ``.pth`` line naming its site-packages, which does not
run the .venv's own ``.pth`` files, so the checkout's editable install stays
out), and run from a directory outside the repository. It must render exactly
what the repository renders; a template or the defaults file missing from the
wheel fails the render.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.generate import generate
from netwarden.render import render_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCES = ("pyproject.toml", "README.md", "netwarden", "collectors")
"""What the build needs from the checkout (pyproject's readme and packages)."""
SHOW_PATHS = (
    "import netwarden, netwarden.render as r\n"
    "print(netwarden.__file__, r.TEMPLATE_DIR, r.ROLE_DEFAULTS, sep='\\n')"
)
"""Where the interpreter finds netwarden, its templates and its role defaults."""
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.egg-info", "build")


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ANSIBLE_"))}
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=timeout
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(repo: Path, tmp: Path) -> Path:
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        path = repo / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=JUNK)
        else:
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "--no-index", "-w", str(dist), str(src)], cwd=tmp)
    (wheel,) = dist.glob("netwarden-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv with the wheel installed and, behind it, the project's .venv dependencies."""
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    python = venv / "bin" / "python"
    # Install before the .pth exists: pip must not see the checkout's editable netwarden.
    pip_install = [sys.executable, "-m", "pip", "--python", str(python), "install"]
    _run([*pip_install, "--no-deps", "--no-index", str(wheel)], cwd=tmp)
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp)
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site.stdout.strip()) / "netwarden-test-deps.pth").write_text(
        "".join(f"{d}\n" for d in sorted(deps)), encoding="utf-8"
    )
    return venv


def test_installed_wheel_renders_like_the_repo(repo_root: Path, tmp_path: Path) -> None:
    wheel = _build_wheel(repo_root, tmp_path)
    venv = _fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    inventory = elsewhere / "inventory"
    generate(inventory, sites=1)

    where = _run([str(venv / "bin" / "python"), "-c", SHOW_PATHS], cwd=elsewhere)
    module, templates, defaults = (Path(line) for line in where.stdout.splitlines())
    for path in (module, templates, defaults):
        assert path.is_relative_to(venv.resolve()), f"{path} is not the installed copy"
    assert (templates / "ios_baseline.j2").is_file()
    assert not (templates / "ios_baseline.j2").is_symlink()

    out = elsewhere / "configs"
    _run(
        [str(venv / "bin" / "netwarden"), "render", "-i", str(inventory), "--out", str(out)],
        cwd=elsewhere,
    )
    written = {p.stem: p.read_text(encoding="utf-8") for p in out.glob("*.cfg")}
    expected = render_all(load_inventory(inventory))
    assert expected
    assert written == expected
