"""The report stage: render a run's results as an offline HTML report with figures and a token viewer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "ReportConfig": "config",
    "ReportResult": "run",
    "run_report": "run",
}
__all__ = [
    "ReportConfig",
    "ReportResult",
    "run_report",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.report.config import ReportConfig
    from lossgap.report.run import ReportResult, run_report
