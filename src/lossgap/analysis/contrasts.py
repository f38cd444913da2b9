"""The study's claims as contrasts, each raw and regression-adjusted, with multiplicity-adjusted p-values.

A *factor* sorts tokens into levels (word classes with existential "there" apart, parts of speech, bracket
side × kind × domain type, repeat-length bins, a user grouping); a *family* is a set of contrasts of its
levels. Raw contrasts compare token-weighted means (`estimate`); adjusted ones compare marginal means of a
regression that holds rarity, position, repetition, word piece and domain fixed (`regression`), with the
control the factor itself measures left out. p-values are Holm-adjusted within each family and method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from lossgap.analysis.config import CompareConfig
from lossgap.analysis.estimate import Contrast, Estimates, estimate, holm
from lossgap.analysis.groupings import Grouping, bin_sql, quantile_thresholds
from lossgap.analysis.levels import document_sums, level_sums, relative_estimates
from lossgap.analysis.regression import Control, Fit, fit_factor
from lossgap.errors import ConfigError
from lossgap.rundir.categories import REPEAT_LEN_BINS, repeat_len_bin_sql

__all__ = [
    "CONTRAST_COLUMNS",
    "ContrastSpec",
    "ContrastTables",
    "Factor",
    "default_factors",
    "user_factor",
    "controls_for",
    "contrast_tables",
]

CONTRAST_COLUMNS = ["family", "contrast", "level", "reference", "scope", "method", "scale", "estimate", "ci_low", "ci_high",
                    "p", "p_adjusted", "p_primary", "q", "n_tokens", "n_docs", "n_eff_docs", "note"]  # fmt: skip


@dataclass(frozen=True)
class ContrastSpec:
    """Pooled mean of the factor levels `plus` minus that of `minus`, named for the results table."""

    family: str
    contrast: str
    level: str
    reference: str
    scope: str
    plus: tuple[str, ...]
    minus: tuple[str, ...]


@dataclass(frozen=True)
class Factor:
    """Levels of tokens (SQL, NULL: no level) and the families of contrasts between them.

    `population` (SQL) names per token the population its level's marginal mean averages over, and
    `population_of(level)` the population a level's marginal mean is taken in.
    """

    name: str
    expr: str
    population: str
    columns: tuple[str, ...]  # feature columns the factor reads: a control on one of them is left out
    contrasts: Callable[[list[str]], list[ContrastSpec]]
    population_of: Callable[[str], str] = field(default=lambda level: "scope")
    order: tuple[str, ...] | None = None


def _word_class_contrasts(levels: list[str]) -> list[ContrastSpec]:
    function = tuple(v for v in ("function:EX", "function:other") if v in levels)
    out = []
    if "content" in levels and function:
        out.append(
            ContrastSpec("word_class", "content - function", "content", "function", "prose", ("content",), function)
        )
    if {"function:EX", "function:other"} <= set(levels):
        out.append(ContrastSpec("existential_there", "EX there - other function words", "there (EX)",
                                "other function words", "prose", ("function:EX",), ("function:other",)))  # fmt: skip
    return out


def _upos_contrasts(levels: list[str]) -> list[ContrastSpec]:
    return [
        ContrastSpec("upos", f"{v} - all prose", v, "all prose tokens", "prose", (v,), tuple(levels)) for v in levels
    ]


def _bracket_contrasts(levels: list[str]) -> list[ContrastSpec]:
    parts = [tuple(v.split("|")) for v in levels if v.count("|") == 2]
    out = []

    def add(scope: str, keep: Callable[[str, str], bool]) -> None:
        close = tuple(f"close|{k}|{t}" for side, k, t in parts if side == "close" and keep(k, t))
        opening = tuple(f"open|{k}|{t}" for side, k, t in parts if side == "open" and keep(k, t))
        if close and opening:
            out.append(ContrastSpec("brackets", "close - open", "close", "open", scope, close, opening))

    add("all", lambda k, t: True)
    for domain_type in sorted({t for _, _, t in parts}):
        add(f"domain type: {domain_type}", lambda k, t, want=domain_type: t == want)
    for kind in sorted({k for _, k, _ in parts}):
        add(f"kind: {kind}", lambda k, t, want=kind: k == want)
    return out


def _repeat_contrasts(levels: list[str]) -> list[ContrastSpec]:
    repeated = tuple(v for v in levels if v not in ("0", "1"))
    single = tuple(v for v in ("0", "1") if v in levels)
    out = []
    if repeated and single:
        out.append(ContrastSpec("repetition", "repeated - non-repeated", "repeat_len >= 2", "repeat_len < 2", "all",
                                repeated, single))  # fmt: skip
    if "0" in levels:
        out += [ContrastSpec("repeat_len_bin", f"{v} - 0", v, "0", "all", (v,), ("0",)) for v in levels if v != "0"]
    return out


def default_factors() -> list[Factor]:
    """The factors behind the study's claims (see the module docstring)."""
    bracket = (
        "CASE WHEN bracket_side IN ('open', 'close') THEN bracket_side || '|' || bracket_kind || '|' || domain_type END"
    )
    return [
        Factor(
            name="word_class",
            expr="CASE WHEN word_class = 'function' AND tag = 'EX' THEN 'function:EX' "
            "WHEN word_class = 'function' THEN 'function:other' ELSE word_class END",
            population="CASE WHEN word_class IS NOT NULL THEN 'scope' END",
            columns=("word_class", "tag"),
            contrasts=_word_class_contrasts,
        ),
        Factor(
            name="upos",
            expr="upos",
            population="CASE WHEN upos IS NOT NULL THEN 'scope' END",
            columns=("upos",),
            contrasts=_upos_contrasts,
        ),  # fmt: skip
        Factor(
            name="brackets",
            expr=bracket,
            population="domain_type",
            columns=("bracket_side", "bracket_kind"),
            contrasts=_bracket_contrasts,
            population_of=lambda level: level.split("|")[2],
        ),  # fmt: skip
        Factor(
            name="repeat_len_bin",
            expr=repeat_len_bin_sql(),
            population="'scope'",
            columns=("repeat_len",),
            contrasts=_repeat_contrasts,
            order=tuple(b[2] for b in REPEAT_LEN_BINS),
        ),  # fmt: skip
    ]


def user_factor(grouping: Grouping, reference: str | None) -> Factor:
    """A `--by` grouping as a factor: each level against `reference` (default: its most frequent level)."""

    def contrasts(levels: list[str]) -> list[ContrastSpec]:
        ref = reference if reference in levels else levels[0] if levels else None
        return [ContrastSpec(f"by {grouping.name}", f"{v} - {ref}", v, ref, "all", (v,), (ref,))
                for v in levels if v != ref]  # fmt: skip

    return Factor(name=f"by {grouping.name}", expr=grouping.expr,
                  population=f"CASE WHEN ({grouping.expr}) IS NOT NULL THEN 'scope' END", columns=grouping.columns,
                  contrasts=contrasts, order=grouping.order)  # fmt: skip


# The feature column each control reads (a factor on that column drops the control).
_CONTROL_COLUMNS = {"log_freq": "log_freq", "log_pos": "log_pos", "repeat_len": "repeat_len",
                    "word_piece": "word_piece", "domain": "domain"}  # fmt: skip


def controls_for(con: duckdb.DuckDBPyConnection, config: CompareConfig, linear: bool) -> list[Control]:
    """The regression's controls: rarity and position binned at quantiles (or, `linear`, as lines), the rest
    categorical."""
    controls = []
    for name in config.controls:
        if name in ("log_freq", "log_pos"):
            if linear:
                controls.append(Control(name, name, numeric=True))
            else:
                controls.append(Control(name, bin_sql(name, quantile_thresholds(con, name, config.control_bins))))
        elif name == "repeat_len":
            controls.append(Control(name, repeat_len_bin_sql()))
        else:
            controls.append(Control(name, name))
    return controls


def _rows(spec_rows: list[ContrastSpec], method: str, values: Sequence[tuple[float, float, float, float]],
          support: pd.DataFrame, scale: str = "nats") -> pd.DataFrame:  # fmt: skip
    frame = pd.DataFrame([{"family": s.family, "contrast": s.contrast, "level": s.level, "reference": s.reference,
                           "scope": s.scope, "method": method, "scale": scale} for s in spec_rows])  # fmt: skip
    frame[["estimate", "ci_low", "ci_high", "p"]] = np.array(values, dtype=np.float64).reshape(len(spec_rows), 4)
    return pd.concat([frame, support.reset_index(drop=True)], axis=1)


@dataclass(frozen=True)
class ContrastTables:
    contrasts: pd.DataFrame  # contrasts.csv
    sensitivity: pd.DataFrame  # sensitivity.csv
    marginal_means: pd.DataFrame  # marginal_means.csv
    fits: tuple[Fit, ...]


def contrast_tables(con: duckdb.DuckDBPyConnection, factors: Sequence[Factor], config: CompareConfig,
                    n_docs: int) -> ContrastTables:  # fmt: skip
    """contrasts.csv (raw and adjusted rows), sensitivity.csv (raw, linear and flexible controls) and the
    flexible fits' marginal means, for every factor."""
    groupings = [Grouping(name=f.name, expr=f.expr, order=f.order) for f in factors]
    sums = document_sums(con, groupings)
    flexible, linear = controls_for(con, config, linear=False), controls_for(con, config, linear=True)
    contrast_frames, sensitivity_frames, mean_frames, fits = [], [], [], []
    for k, factor in enumerate(factors):
        rows = sums[sums["group"] == k]
        if rows.empty:
            continue
        ls = level_sums(rows, n_docs, factor.order)
        specs = factor.contrasts(list(ls.names))
        if not specs:
            continue
        index = {v: i for i, v in enumerate(ls.names)}
        combinations = [Contrast(tuple(index[v] for v in s.plus), tuple(index[v] for v in s.minus)) for s in specs]
        raw = estimate(ls, combinations, config)
        support = pd.DataFrame({"n_tokens": raw.n_tokens, "n_docs": raw.n_docs, "n_eff_docs": raw.n_eff_docs})
        blocked = [bool(note) for note in raw.note]  # no interval where the raw one was withheld (few documents)
        raw_values = list(zip(raw.estimate, raw.ci_low, raw.ci_high, raw.p, strict=True))
        # the relative scale: each side's gap as a share of the baseline's loss on its tokens (ratio of sums)
        relative = relative_estimates(rows, n_docs, factor.order, combinations, config)
        if relative is None:  # no baseline losses (a frame given gaps alone)
            relative = dataclasses.replace(raw, estimate=raw.estimate * np.nan)
            blocked_relative = [True] * len(specs)
        else:
            blocked_relative = blocked
        tokens, _ = ls.totals()
        base_sums = np.bincount(ls.level, weights=rows["sum_baseline"].to_numpy(np.float64), minlength=ls.n_levels)
        base_mean = [base_sums[list({*c.plus, *c.minus})].sum() / tokens[list({*c.plus, *c.minus})].sum()
                     for c in combinations]  # fmt: skip
        adjusted: dict[str, list[tuple[float, float, float, float]]] = {}
        for kind, controls in (("flexible", flexible), ("linear", linear)):
            kept = [c for c in controls if _CONTROL_COLUMNS.get(c.name) not in factor.columns]
            fit = fit_factor(con, name=factor.name, factor=factor.expr, population=factor.population,
                             controls=kept, kind=kind)  # fmt: skip
            vectors = [None if fit is None else fit.combination([(factor.population_of(v), v) for v in spec.plus],
                                                                [(factor.population_of(v), v) for v in spec.minus])
                       for spec in specs]  # fmt: skip
            done = iter(
                fit.intervals([a for a in vectors if a is not None], config.confidence) if fit is not None else []
            )
            values = []
            for a, withheld in zip(vectors, blocked, strict=True):
                if a is None:
                    values.append((np.nan,) * 4)
                    continue
                est, low, high, p = next(done)
                values.append((est, np.nan, np.nan, np.nan) if withheld else (est, low, high, p))
            adjusted[kind] = values
            if kind == "flexible" and fit is not None:
                fits.append(fit)
                # each level's own support (documents, effective documents), as categories.csv has it
                alone = estimate(ls, [Contrast((i,)) for i in range(ls.n_levels)], config)
                mean_frames.append(_marginal_means(fit, factor, list(ls.names), config, alone))
        notes = pd.Series(raw.note, name="note")
        relative_values = [(e, np.nan, np.nan, np.nan) if withheld else (e, lo, hi, p) for e, lo, hi, p, withheld in
                           zip(relative.estimate, relative.ci_low, relative.ci_high, relative.p, blocked_relative, strict=True)]  # fmt: skip
        # adjusted, relative: the adjusted contrast over the mean baseline loss of its levels' tokens (taken as fixed)
        adjusted_relative = [
            (e / b, lo / b, hi / b, p) for (e, lo, hi, p), b in zip(adjusted["flexible"], base_mean, strict=True)
        ]
        fixed = notes.where(notes != "", "relative to the mean baseline loss of these tokens, taken as fixed")
        contrast_frames += [
            _rows(specs, "raw", raw_values, support.assign(note=notes)),
            _rows(specs, "adjusted", adjusted["flexible"], support.assign(note=notes)),
            _rows(specs, "raw", relative_values, support.assign(note=notes), scale="relative"),
            _rows(specs, "adjusted", adjusted_relative, support.assign(note=fixed), scale="relative"),
        ]
        sensitivity_frames += [
            _rows(specs, controls, adjusted.get(controls, raw_values), support[[]])
            for controls in ("none", "linear", "flexible")
        ]
    contrasts = (
        pd.concat(contrast_frames, ignore_index=True) if contrast_frames else pd.DataFrame(columns=CONTRAST_COLUMNS)
    )
    adjust_p(contrasts, config.primary)
    contrasts["q"] = np.nan  # filled over every p-value of the comparison (`compare.report_wide_q`)
    sensitivity = (
        pd.concat(sensitivity_frames, ignore_index=True).rename(columns={"method": "controls"})
        if sensitivity_frames
        else pd.DataFrame()
    )
    means = pd.concat(mean_frames, ignore_index=True) if mean_frames else pd.DataFrame()
    return ContrastTables(contrasts=contrasts[CONTRAST_COLUMNS], sensitivity=sensitivity, marginal_means=means,
                          fits=tuple(fits))  # fmt: skip


def adjust_p(contrasts: pd.DataFrame, primary: tuple[str, ...]) -> None:
    """Fill `p_adjusted` (Holm within each family, method and scale) and `p_primary` (Holm over the declared
    primary families together, per method, nats rows) from the table's `p`."""
    contrasts["p_adjusted"] = np.nan
    for _, idx in contrasts.groupby(["family", "method", "scale"], sort=False).groups.items():
        contrasts.loc[idx, "p_adjusted"] = holm(contrasts.loc[idx, "p"].to_numpy(np.float64))
    # the declared primary contrasts: Holm over all of them at once (per method), the claims a study stands on
    contrasts["p_primary"] = np.nan
    unknown = sorted(set(primary) - set(contrasts["family"]))
    if unknown:
        raise ConfigError(f"--primary {', '.join(unknown)}: no such family of contrasts in this comparison "
                          f"(families: {', '.join(dict.fromkeys(contrasts['family']))})")  # fmt: skip
    for method in ("raw", "adjusted"):
        chosen = contrasts.index[contrasts["family"].isin(primary) & (contrasts["method"] == method)
                                 & (contrasts["scale"] == "nats")]  # fmt: skip
        contrasts.loc[chosen, "p_primary"] = holm(contrasts.loc[chosen, "p"].to_numpy(np.float64))


def _marginal_means(
    fit: Fit, factor: Factor, levels: list[str], config: CompareConfig, alone: Estimates
) -> pd.DataFrame:
    """Each level's marginal mean; no interval (NaN, with the reason in `note`) where the level's tokens sit in
    fewer than `min_eff_docs` effective documents, as for its raw mean."""
    rows = []
    shown = [(i, level, factor.population_of(level)) for i, level in enumerate(levels)
             if factor.population_of(level) in fit.population_means and level in fit.design.factor_levels]  # fmt: skip
    intervals = fit.intervals(
        [fit.marginal_vector(level, population) for _, level, population in shown], config.confidence
    )
    for (i, level, population), (est, low, high, p) in zip(shown, intervals, strict=True):
        if alone.note[i]:
            low, high, p = np.nan, np.nan, np.nan
        rows.append({"factor": factor.name, "level": level, "population": population, "estimate": est,
                     "ci_low": low, "ci_high": high, "p": p, "n_tokens": fit.level_tokens.get((population, level), 0),
                     "n_docs": int(alone.n_docs[i]), "n_eff_docs": float(alone.n_eff_docs[i]), "note": alone.note[i]})  # fmt: skip
    return pd.DataFrame(rows)
