"""The report stage: render results/ tables as an offline HTML report with figures and a token viewer."""

from lossgap.report.config import ReportConfig
from lossgap.report.run import ReportResult, run_report

__all__ = ["ReportConfig", "ReportResult", "run_report"]
