"""Gap analysis: category means and contrasts with honest intervals, a regression that holds rarity and
repetition fixed, repeat curves, filtered-loss curves of checkpoint series and their paired differences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "CompareConfig": "config",
    "CompareResult": "compare",
    "CurvesConfig": "config",
    "CurvesResult": "curves",
    "IntervalSpec": "config",
    "Series": "config",
    "compare_frame": "compare",
    "compute_compare": "compare",
    "compute_curves": "curves",
    "run_compare": "compare",
    "run_curves": "curves",
    "token_frame": "join",
}
__all__ = [
    "CompareConfig",
    "CompareResult",
    "CurvesConfig",
    "CurvesResult",
    "IntervalSpec",
    "Series",
    "compare_frame",
    "compute_compare",
    "compute_curves",
    "run_compare",
    "run_curves",
    "token_frame",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.analysis.compare import CompareResult, compare_frame, compute_compare, run_compare
    from lossgap.analysis.config import CompareConfig, CurvesConfig, IntervalSpec, Series
    from lossgap.analysis.curves import CurvesResult, compute_curves, run_curves
    from lossgap.analysis.join import token_frame
