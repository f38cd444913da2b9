"""`resolve_unit`: the run directory an analysis reads for `--unit` (token, word, byte or auto)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from lossgap.errors import ConfigError
from lossgap.rundir import RunDir, as_rundir

__all__ = ["ANALYSIS_UNITS", "report_run", "resolve_unit"]

ANALYSIS_UNITS = ("auto", "token", "word", "byte")
log = logging.getLogger(__name__)


def resolve_unit(run: RunDir, unit: str, names: Sequence[str], *, annotate: object | None = None) -> RunDir:
    """`run` itself for the token unit (every model must have the run's tokens), its unit run units/UNIT/ brought
    up to date for `names` for word and byte. auto: token when every model of `names` has the run's tokens,
    word otherwise."""
    if unit not in ANALYSIS_UNITS:
        raise ConfigError(f"--unit {unit}: choose one of {', '.join(ANALYSIS_UNITS)}")
    if run.manifest().unit is not None:
        raise ConfigError(f"{run.path} is already a unit run: give its parent run with --unit")
    if unit == "auto":
        models = run.manifest().models
        unit = "token" if all(not models[n].tokenizer for n in names if n in models) else "word"
        if unit == "word":
            log.info("the models do not share a tokenizer: comparing them per word")
    if unit == "token":
        run.require_run_tokens(names)
        return run
    from lossgap.units.build import build_units

    unit_run, done = build_units(run, unit, names, annotate=annotate)
    for d in done:
        if d.rebuilt:
            log.info("%s per %s: %d %ss, %d left out; total loss %.6f of its tokens, %.6f of its %ss", d.name, unit,
                     d.n_units, unit, d.n_incomplete, d.token_loss_sum, d.unit_loss_sum, unit)  # fmt: skip
    return unit_run


def report_run(run: RunDir | str, unit: str = "auto") -> RunDir:
    """The run whose results a report renders: `run` for token, units/UNIT/ for word and byte; auto: `run` when
    it has results, else the first unit run (word, then byte) that has."""
    run = as_rundir(run)
    if unit not in ANALYSIS_UNITS:
        raise ConfigError(f"--unit {unit}: choose one of {', '.join(ANALYSIS_UNITS)}")
    if unit == "token":
        return run
    if unit != "auto":
        return run.unit(unit)
    if run.results():
        return run
    return next((run.unit(u) for u in ("word", "byte") if run.unit(u).results()), run)
