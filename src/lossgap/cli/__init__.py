"""The `lossgap` command line: one small module per command, each building a config and calling the library.

Heavy imports (torch, transformers, DuckDB, pandas) happen inside the handlers, so `lossgap --help` is instant.
Options default to None; the real defaults live in each stage's config, and the help shows them from there.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

from lossgap.cli import annotate, compare, corpus, curves, masks, pipeline, probes, report, score

__all__ = ["app", "main"]

app = typer.Typer(
    name="lossgap",
    help="Compare causal language models token by token: corpus (or probes), score, annotate, compare, curves, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help and examples print as written: no markup in "[corpus]", flags without "<bool>"
)


@app.callback()
def _root(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug messages.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


for _command, _epilog in (
    (corpus.corpus, corpus.EPILOG),
    (probes.probes, probes.EPILOG),
    (score.score, score.EPILOG),
    (score.tokenize, score.TOKENIZE_EPILOG),
    (annotate.annotate, annotate.EPILOG),
    (compare.compare, compare.EPILOG),
    (curves.curves, curves.EPILOG),
    (report.report, report.EPILOG),
    (masks.masks, masks.EPILOG),
    (pipeline.run, pipeline.RUN_EPILOG),
    (pipeline.demo, pipeline.DEMO_EPILOG),
):
    app.command(epilog=_epilog)(_command)


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
