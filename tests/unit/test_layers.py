"""`lint-imports`, which `make check` runs, fails when a module imports from a layer above its own,
when psflow or the sandbox imports the test kit or a test, when the test kit or a benchmark imports
a test, and when a test module imports another (the contracts: pyproject.toml, [tool.importlinter])."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    *("psflow", "deployments", "flows", "tasks", "blocks", "core", "engagement", "sandbox"),
    *("testkit", "tests", "benchmarks"),
)


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


def with_import(root: Path, module: str, statement: str) -> Path:
    """A copy of the repository's packages under `root` with `statement` added to `module`."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", root)
    path = root / module
    path.write_text(path.read_text() + f"\n{statement}  # noqa\n")
    return root


def test_an_import_pointing_up_breaks_the_check(tmp_path: Path) -> None:
    root = with_import(tmp_path, "tasks/calls.py", "from deployments import definitions")

    result = lint_imports(root)

    assert result.returncode != 0
    assert "tasks is not allowed to import deployments" in result.stdout
    assert "tasks.calls -> deployments.definitions" in result.stdout


@pytest.mark.parametrize(
    ("module", "statement", "broken"),
    [
        (
            "flows/initiate.py",
            "from testkit import factories",
            "flows.initiate -> testkit.factories",
        ),
        ("sandbox/seed.py", "import tests.conftest", "sandbox.seed -> tests.conftest"),
        (
            "benchmarks/reliability.py",
            "from tests.e2e import conftest",
            "benchmarks.reliability -> tests.e2e.conftest",
        ),
        ("testkit/runs.py", "import tests.conftest", "testkit.runs -> tests.conftest"),
        (
            "tests/e2e/test_ui.py",
            "from tests.e2e import test_initiate",
            "tests.e2e.test_ui -> tests.e2e.test_initiate",
        ),
    ],
)
def test_an_import_of_the_tests_from_outside_them_or_between_them_breaks_the_check(
    tmp_path: Path, module: str, statement: str, broken: str
) -> None:
    result = lint_imports(with_import(tmp_path, module, statement))

    assert result.returncode != 0
    assert broken in result.stdout
