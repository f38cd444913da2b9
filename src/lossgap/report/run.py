"""`run_report`: read results/ and a bounded sample of the run's tables, write report/index.html with its
assets (assets/report.css, assets/viewer.js) and each figure as report/figures/KEY.svg."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lossgap.report.config import ReportConfig
from lossgap.report.figures import build_figures
from lossgap.report.html import render_report
from lossgap.report.load import Results, read_overview, read_results
from lossgap.report.viewer import load_viewer
from lossgap.rundir import RunDir

__all__ = ["ReportResult", "omitted_sections", "run_report"]

log = logging.getLogger(__name__)
_ASSETS = ("report.css", "viewer.js")


@dataclass(frozen=True)
class ReportResult:
    path: Path  # report/index.html
    figures: tuple[str, ...]  # keys of the figures drawn
    viewer_docs: int  # documents in the token viewer
    omitted: tuple[str, ...]  # sections left out, and why


def omitted_sections(results: Results) -> list[str]:
    """What the report leaves out because its results file is absent, with the command that makes it."""
    compare = "run `lossgap compare --run DIR --baseline NAME --candidate NAME`"
    wanted = (
        (results.categories, f"category figures (word class, brackets, domains): no results/categories.csv; {compare}"),
        (results.contrasts, f"contrasts: no results/contrasts.csv; {compare}"),
        (results.repeat_curve, f"gap vs repeats: no results/repeat_curve.csv; {compare}"),
        (results.curves, "checkpoint curves: no results/curves.csv; run `lossgap curves --run DIR --series NAME` on a run with checkpoints (NAME@STEP)"),
        (results.top_tokens, "top tokens table: no results/top_tokens.csv"),
        (results.top_segments, "top segments table: no results/top_segments.csv"),
        (results.top_documents, "top documents table: no results/top_documents.csv"),
    )
    return [why for table, why in wanted if table is None]


def run_report(run_dir: Path | str | RunDir, config: ReportConfig | None = None) -> ReportResult:
    """Render the report of the run in `run_dir` from its results/ tables; nothing is recomputed."""
    config = config or ReportConfig()
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(Path(run_dir))
    results = read_results(run)
    run.check_writable()
    overview = read_overview(run, results.summary)
    figures = build_figures(results)
    viewer = load_viewer(run, results, config)
    omitted = omitted_sections(results)
    if viewer is None:
        omitted.append("token viewer: the run has no corpus or tokens, or no documents to show")
    title = config.title or f"lossgap: {results.summary.candidate} vs {results.summary.baseline}"
    html = render_report(title=title, run_label=str(run.path), results=results, overview=overview, figures=figures,
                         viewer=viewer, top=config.top_rows, omitted=omitted, notes=config.notes)  # fmt: skip
    assets = resources.files("lossgap.report") / "assets"
    files = {f"assets/{name}": (assets / name).read_text(encoding="utf-8") for name in _ASSETS}
    files |= {f"figures/{fig.key}.svg": fig.svg for fig in figures}
    files["index.html"] = html
    index = run.write_report(files)
    run.record_stage("report", config, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    log.info("report: %d figures, %d documents in the viewer -> %s", len(figures),
             0 if viewer is None else len(viewer.docs), index)  # fmt: skip
    return ReportResult(path=index, figures=tuple(f.key for f in figures),
                        viewer_docs=0 if viewer is None else len(viewer.docs), omitted=tuple(omitted))  # fmt: skip
