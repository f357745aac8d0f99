"""`lint-imports`, which `make check` runs on the product, fails when a module imports from a layer
above its own (the contract: pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("psflow", "deployments", "flows", "tasks", "blocks", "core", "engagement", "sandbox")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_import_pointing_up_breaks_the_check(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    calls = tmp_path / "tasks" / "calls.py"
    calls.write_text(calls.read_text() + "\nfrom deployments import definitions  # noqa\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert "tasks is not allowed to import deployments" in result.stdout
    assert "tasks.calls -> deployments.definitions" in result.stdout
