"""Gap analysis: category gaps with document-bootstrap intervals, regression, repeat curves, filtered-loss curves."""

from lossgap.analysis.compare import CompareConfig, CompareResult, compute_compare, run_compare
from lossgap.analysis.curves import CurvesConfig, compute_curves, parse_series, run_curves
from lossgap.analysis.masks import PRESETS

__all__ = [
    "CompareConfig",
    "CompareResult",
    "compute_compare",
    "run_compare",
    "CurvesConfig",
    "compute_curves",
    "parse_series",
    "run_curves",
    "PRESETS",
]
