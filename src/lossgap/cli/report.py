"""`lossgap report`: the offline HTML report of a run's results."""

from __future__ import annotations

from typing import Annotated

import typer

from lossgap.cli.common import RunOption, console, examples, given, handles_errors, with_default
from lossgap.report.config import ReportConfig

EPILOG = examples(
    "lossgap report --run runs/olmo                          # writes runs/olmo/report/index.html",
    "lossgap report --run runs/olmo --viewer-docs 30 --viewer-tokens 4000",
    "lossgap report --run runs/olmo --doc wiki-0042 --doc py-0007   # also show these documents",
)


@handles_errors
def report(
    run: RunOption,
    top_rows: Annotated[
        int | None,
        typer.Option(
            help=with_default(
                "Rows per direction in the top tokens/segments/documents tables", ReportConfig, "top_rows"
            )
        ),
    ] = None,
    viewer_docs: Annotated[
        int | None,
        typer.Option(help=with_default("Documents in the token viewer, 0 for none", ReportConfig, "viewer_docs")),
    ] = None,
    viewer_tokens: Annotated[
        int | None,
        typer.Option(
            help=with_default(
                "Tokens shown per viewer document, around the place the tables point at", ReportConfig, "viewer_tokens"
            )
        ),
    ] = None,
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="A doc_id to show in the viewer first; repeatable.")
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(help="Title of every page (default: 'lossgap: CANDIDATE vs BASELINE' and each result's own)."),
    ] = None,
    unit: Annotated[
        str,
        typer.Option(
            metavar="token|word|byte|auto",
            help=(
                "Which results: token (the run's results/), word or byte (units/UNIT/results/, from compare --unit), or "
                "auto: the run's own when it has them, else the word unit's, else the byte unit's."
            ),
        ),
    ] = "auto",
) -> None:
    """Render every result of the run as an offline HTML report: a page per comparison (figures, tables, token
    viewer) and per set of curves, report/index.html first, linked to each other."""
    from lossgap.report import run_report
    from lossgap.units import report_run

    config = ReportConfig(
        **given(top_rows=top_rows, viewer_docs=viewer_docs, viewer_tokens=viewer_tokens, title=title,
                extra_docs=tuple(doc) if doc else None)
    )  # fmt: skip
    with console.status("rendering the report …"):
        result = run_report(report_run(run, unit), config)
    console.print(f"report: {len(result.pages)} page(s) -> {result.path}", highlight=False)
    for page in result.pages:
        console.print(f"  {page.file}: {page.label}: {len(page.figures)} figures, {page.viewer_docs} documents in the "
                      "viewer", highlight=False, soft_wrap=True)  # fmt: skip
        for why in page.omitted:
            console.print(f"    left out: {why}", highlight=False, soft_wrap=True)
