"""The tree's style: `ruff check` clean and `ruff format` applied (pyproject.toml's settings), so that CI keeps it so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", [["check", "--quiet"], ["format", "--check", "--quiet"]], ids=["check", "format"])
def test_ruff(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", *command, "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"ruff {' '.join(command)} found:\n{done.stdout}{done.stderr}"
