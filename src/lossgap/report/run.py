"""`run_report`: read every named result of the run and a bounded sample of its tables, write a page per result
(report/index.html for the first, KIND-NAME.html for the others) with the shared assets (assets/report.css,
assets/viewer.js) and each figure as report/figures/KEY.svg (PAGE.KEY.svg on the pages after the first)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from lossgap.report.config import ReportConfig
from lossgap.report.figures import build_figures
from lossgap.report.html import render_report
from lossgap.report.load import Results, read_overview, read_pages
from lossgap.report.viewer import load_viewer
from lossgap.rundir import ResultRecord, RunDir, as_rundir

__all__ = ["PageResult", "ReportResult", "omitted_sections", "page_file", "page_label", "run_report"]

log = logging.getLogger(__name__)
_ASSETS = ("report.css", "viewer.js")


@dataclass(frozen=True)
class PageResult:
    """One page of the report: one named result of the run."""

    file: str  # index.html for the first result, KIND-NAME.html for the others
    label: str  # the result in words ("hybrid vs transformer", "checkpoint curves: …")
    figures: tuple[str, ...]  # keys of the figures drawn (file names under report/figures/, without .svg)
    viewer_docs: int  # documents in the page's token viewer
    omitted: tuple[str, ...]  # sections left out, and why


@dataclass(frozen=True)
class ReportResult:
    path: Path  # report/index.html
    pages: tuple[PageResult, ...]  # a page per result, the first is index.html

    @property
    def figures(self) -> tuple[str, ...]:
        """The first page's figures."""
        return self.pages[0].figures

    @property
    def viewer_docs(self) -> int:
        return self.pages[0].viewer_docs

    @property
    def omitted(self) -> tuple[str, ...]:
        return self.pages[0].omitted


def omitted_sections(results: Results, *, first: bool = True) -> list[str]:
    """What a comparison's page leaves out because its results file is absent, with the command that makes it
    (and on the first page, where the run has no checkpoint curves, how to get them)."""
    if results.summary is None:
        return []
    compare = "run `lossgap compare --run DIR --baseline NAME --candidate NAME`"
    wanted = (
        (results.categories, f"category figures (word class, brackets, domains): no categories.csv; {compare}"),
        (results.contrasts, f"contrasts: no contrasts.csv; {compare}"),
        (results.repeat_curve, f"gap vs repeats: no repeat_curve.csv; {compare}"),
        (results.top_tokens, "top tokens table: no top_tokens.csv"),
        (results.top_segments, "top segments table: no top_segments.csv"),
        (results.top_documents, "top documents table: no top_documents.csv"),
    )
    omitted = [why for table, why in wanted if table is None]
    if first and results.curves is None:
        omitted.append("checkpoint curves: the run has no curves result; run `lossgap curves --run DIR --series NAME` "
                       "on a run with checkpoints (NAME@STEP)")  # fmt: skip
    return omitted


def page_file(record: ResultRecord, first: bool) -> str:
    """The page of a result: index.html for the run's first result, KIND-NAME.html (KIND.html for an older
    run's unnamed result) for the others."""
    if first:
        return "index.html"
    return f"{record.kind}-{record.name}.html" if record.name else f"{record.kind}.html"


def page_label(results: Results) -> str:
    """A page in words: its result's label, with the curves it also shows (the first page)."""
    label = results.record.label
    if results.summary is not None and (results.curves is not None or results.training is not None):
        label += " · checkpoint curves" if results.curves is not None else " · training curves"
    return label


def run_report(run_dir: Path | str | RunDir, config: ReportConfig | None = None) -> ReportResult:
    """Render the report of the run in `run_dir` from its results, nothing recomputed: index.html shows the first
    comparison with the run's checkpoint curves, every other result has its own page, all linked to each other
    (`read_pages`)."""
    config = config or ReportConfig()
    run = as_rundir(run_dir)
    every = read_pages(run)
    run.check_writable()
    pages = [(page_file(r.record, i == 0), r) for i, r in enumerate(every)]
    nav = [(file, page_label(r)) for file, r in pages]
    domains = read_overview(run, None).domains  # the same on every page: counted once
    files: dict[str, str] = {}
    done = []
    for file, results in pages:
        first = file == "index.html"
        prefix = "" if first else file.removesuffix(".html") + "."
        figures = [replace(f, key=prefix + f.key) for f in build_figures(results)]
        viewer = load_viewer(run, results, config)
        omitted = omitted_sections(results, first=first)
        if viewer is None and results.pair is not None:
            omitted.append("token viewer: the run has no corpus or tokens, or no documents to show")
        title = config.title or f"lossgap: {results.record.label}"
        files[file] = render_report(title=title, run_label=str(run.path), results=results,
                                    overview=read_overview(run, results.summary, domains), figures=figures, viewer=viewer,
                                    top=config.top_rows, omitted=omitted, notes=config.notes,
                                    pages=[(f, label, f == file) for f, label in nav])  # fmt: skip
        files |= {f"figures/{fig.key}.svg": fig.svg for fig in figures}
        done.append(PageResult(file=file, label=page_label(results), figures=tuple(f.key for f in figures),
                               viewer_docs=0 if viewer is None else len(viewer.docs), omitted=tuple(omitted)))  # fmt: skip
    assets = resources.files("lossgap.report") / "assets"
    files |= {f"assets/{name}": (assets / name).read_text(encoding="utf-8") for name in _ASSETS}
    index = run.write_report(files)
    run.record_stage("report", config, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    for page in done:
        log.info("report page %s (%s): %d figures, %d documents in the viewer", page.file, page.label,
                 len(page.figures), page.viewer_docs)  # fmt: skip
    return ReportResult(path=index, pages=tuple(done))
