"""Writing the results files of `compare` and `curves` (docs/results.md): CSV tables and summary.json.

Every file is written atomically through RunDir; callers compute everything first, then write.
"""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timezone
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lossgap.rundir import RunDir

__all__ = ["write_tables", "write_json", "record_in_manifest"]


def write_tables(run_dir: RunDir, tables: Mapping[str, tuple[pd.DataFrame, Sequence[str]]]) -> None:
    """Write each table (filename -> (frame, columns in contract order)) as CSV, full float precision."""
    for filename, (frame, columns) in tables.items():
        run_dir.write_text(run_dir.results_path(filename), frame[list(columns)].to_csv(index=False, float_format="%.10g"))


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_json(run_dir: RunDir, filename: str, payload: Mapping[str, Any]) -> None:
    """Write `payload` as indented strict JSON."""
    run_dir.write_text(run_dir.results_path(filename), json.dumps(_clean(dict(payload)), indent=2) + "\n")


def record_in_manifest(run_dir: RunDir, stage: str, config: Any) -> None:
    """Record the stage's config (a dataclass) and the time under manifest[stage]."""
    entry = {**dataclasses.asdict(config), "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    run_dir.update_manifest(lambda manifest: manifest.__setitem__(stage, entry))
