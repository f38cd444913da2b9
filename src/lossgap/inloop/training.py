"""The in-loop evaluator's numbers as a results table of a run (results/NAME/training.csv, NAME `training` by default), which the report draws
as filtered losses while training.

A training loop logs what `Evaluator` returns, one record per evaluation: {"step": S, "lossgap/MASK": mean loss,
…} and, for an evaluation at the end of an annealing branch, "branch": the main-run step the branch left
from. Records without evaluator keys (training-loss lines) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from lossgap.errors import ConfigError

__all__ = ["training_frame", "write_training_curves"]


def _records(log: Path | str | Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    if isinstance(log, (str, Path)):
        with open(log, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    return log


def training_frame(
    logs: Mapping[str, Path | str | Iterable[Mapping[str, Any]]], prefix: str = "lossgap"
) -> pd.DataFrame:
    """Long table (series, step, branch, mask, mean_loss) of each series' evaluator records (a JSONL file or
    the records themselves)."""
    rows = []
    head = f"{prefix}/"
    for series, log in logs.items():
        for record in _records(log):
            for key, value in record.items():
                if key.startswith(head) and key != f"{prefix}/seconds":
                    rows.append({"series": series, "step": int(record["step"]), "branch": record.get("branch"),
                                 "mask": key.removeprefix(head), "mean_loss": float(value)})  # fmt: skip
    if not rows:
        raise ConfigError(f"no record holds {head}… keys: are these the in-loop evaluator's logs (prefix {prefix!r})?")
    frame = pd.DataFrame(rows)
    frame["branch"] = frame["branch"].astype("Int64")
    order = {name: i for i, name in enumerate(logs)}  # series in the order given (the report's colours follow it)
    frame = frame.sort_values(["series", "mask", "branch", "step"], key=lambda c: c.map(order) if c.name == "series" else c,
                              na_position="first", kind="stable")  # fmt: skip
    return frame.reset_index(drop=True)


def write_training_curves(run: Any, logs: Mapping[str, Path | str | Iterable[Mapping[str, Any]]],
                          prefix: str = "lossgap", name: str = "training") -> pd.DataFrame:  # fmt: skip
    """Write results/NAME/training.csv of `run` (a RunDir or its path) from the series' logs; returns the table."""
    from lossgap.rundir import ResultRecord, as_rundir

    frame = training_frame(logs, prefix)
    as_rundir(run).write_results(ResultRecord(name=name, kind="training", series=tuple(logs)), {"training.csv": frame})
    return frame
