"""The `lossgap` command line: one small module per command, each building a config and calling the library.

Heavy imports (torch, transformers, DuckDB, pandas) happen inside the handlers, so `lossgap --help` is instant.
Options default to None; the real defaults live in each stage's config, and the help shows them from there.
"""

from __future__ import annotations

import inspect
import logging
import sys
import types
import typing
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand
from typer.models import ArgumentInfo, OptionInfo

from lossgap.cli import annotate, compare, corpus, curves, discover, masks, pipeline, probes, report, score

__all__ = ["app", "main"]

app = typer.Typer(
    name="lossgap",
    help="Compare causal language models token by token: corpus (or probes), score, annotate, compare, discover, curves, report.",
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


class _OnceCommand(TyperCommand):
    """A command whose single-valued options are given at most once: click would let a repeat silently replace
    the first value (`--name a --name b`), so a repeat is a usage error. Options that collect values (`--by`,
    `--mask`, …) may repeat as before."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
        before = args[: args.index("--")] if "--" in args else args
        seen = Counter(token.split("=", 1)[0] for token in before)
        for param in self.params:
            if param.param_type_name == "option" and not param.multiple and not getattr(param, "count", False):
                given = sum(seen.get(opt, 0) for opt in (*param.opts, *param.secondary_opts))
                if given > 1:
                    names = "/".join((*param.opts, *param.secondary_opts))
                    ctx.fail(f"{names} given {given} times: give it once")
        return super().parse_args(ctx, args)


for _command, _epilog in (
    (corpus.corpus, corpus.EPILOG),
    (probes.probes, probes.EPILOG),
    (score.score, score.EPILOG),
    (score.tokenize, score.TOKENIZE_EPILOG),
    (annotate.annotate, annotate.EPILOG),
    (compare.compare, compare.EPILOG),
    (discover.discover, discover.EPILOG),
    (curves.curves, curves.EPILOG),
    (report.report, report.EPILOG),
    (masks.masks, masks.EPILOG),
    (pipeline.run, pipeline.RUN_EPILOG),
    (pipeline.demo, pipeline.DEMO_EPILOG),
):
    app.command(epilog=_epilog, cls=_OnceCommand)(_command)


def _metavar(annotation: object) -> str | None:
    """A plain placeholder for an option's value: PATH, N, NUMBER or TEXT (None for a flag)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        annotation = typing.get_args(annotation)[0]
    return {Path: "PATH", int: "N", float: "NUMBER", str: "TEXT", bool: None}.get(annotation, "VALUE")  # type: ignore[call-overload]


def _plain_metavars() -> None:
    """typer would show each value's Python type (`<list[str]>`, `{source}`): give every option and argument
    without a metavar of its own a plain one (arguments by name, in capitals). The handlers' annotations are
    strings (`from __future__ import annotations`) that typer would evaluate afresh: they are replaced by the
    evaluated ones carrying the metavars."""
    for info in app.registered_commands:
        hints = typing.get_type_hints(info.callback, include_extras=True)
        for fn in {info.callback, inspect.unwrap(info.callback)}:
            fn.__annotations__ = hints
        for name, hint in hints.items():
            if typing.get_origin(hint) is not Annotated:
                continue
            base, *extras = typing.get_args(hint)
            for extra in extras:
                if isinstance(extra, ArgumentInfo) and extra.metavar is None:
                    # typer prints an argument's type beside it whatever its metavar: its help joins the command's
                    extra.metavar, extra.hidden = name.upper(), True
                    info.help = f"{info.help or inspect.getdoc(info.callback)}\n\n{name.upper()}: {extra.help}"
                elif isinstance(extra, OptionInfo) and extra.metavar is None:
                    extra.metavar = _metavar(base)


_plain_metavars()


def main() -> None:
    """Entry point of the `lossgap` command."""
    app()
