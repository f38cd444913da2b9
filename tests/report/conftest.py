"""Fixtures of the report tests: a synthetic run directory (see synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from lossgap.rundir import RunDir

from .synthetic import make_run


@pytest.fixture()
def synthetic_run(tmp_path: Path) -> tuple[RunDir, pd.DataFrame]:
    return make_run(tmp_path / "run")
