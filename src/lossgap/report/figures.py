"""The report's figures, drawn on `matplotlib.figure.Figure` objects from the results tables (never through
pyplot, so importing lossgap leaves a notebook's backend alone).

`draw_figures(results)` returns every figure whose tables exist, each with its title and caption; a notebook
can show `drawn.figure` directly. `build_figures` renders them to SVG for the report. Every point shows its
number of tokens; a point whose interval was withheld (too few effective documents) is grey, without whiskers.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lossgap.report.load import Results
from lossgap.rundir.categories import PROBE_GROUPING, PROBE_SOURCE_GROUPING

__all__ = ["Drawn", "SvgFigure", "draw_figures", "build_figures", "split_values", "contrast_label"]

WINS = "#2166ac"  # candidate better (gap > 0); the viewer uses the same pair
LOSES = "#b2182b"
NEUTRAL = "#7a7a7a"
WITHHELD = "#c4c4c4"  # no interval: too few effective documents
OPEN, CLOSE = "#8c6bb1", "#e08214"
_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#444444",
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "svg.fonttype": "none",  # real text: selectable, and styled by the page's font
    "text.parse_math": False,  # labels are data: a "$" in a category name is a dollar sign, not mathtext
    "legend.frameon": False,
}


@dataclass(frozen=True)
class Drawn:
    """A figure: `key` names it (an HTML id and a file name), `figure` is the matplotlib Figure."""

    key: str
    title: str
    caption: str
    figure: Figure


@dataclass(frozen=True)
class SvgFigure:
    """A figure rendered for the report: `svg` is a standalone SVG document."""

    key: str
    title: str
    caption: str
    svg: str

    @property
    def inline_svg(self) -> str:
        """The <svg> element without the XML prolog, for embedding in HTML."""
        return self.svg[self.svg.index("<svg") :]


def _svg(key: str, fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"lossgap-{key}"}):  # deterministic ids, distinct between figures
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = re.sub(r"<!--.*?-->\s*", "", buf.getvalue(), flags=re.S)
    # Prefix every id and reference with the figure's key: ids stay unique when several SVGs share a page.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    return re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)


def _n(value: float) -> str:
    return f"{int(value):,}" if value == value else "?"


def _sign_colors(low: np.ndarray, high: np.ndarray) -> list[str]:
    """Blue when the whole interval is above zero, red when below, dark grey when it holds zero, light grey
    when there is no interval."""
    return [WITHHELD if not (np.isfinite(lo) and np.isfinite(hi)) else WINS if lo > 0 else LOSES if hi < 0 else NEUTRAL
            for lo, hi in zip(low, high, strict=True)]  # fmt: skip


def _forest(ax, labels: Sequence[str], est: np.ndarray, low: np.ndarray, high: np.ndarray, *,
            y: np.ndarray | None = None, colors: Sequence[str] | None = None, marker: str = "o") -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    """Horizontal estimates with interval whiskers (none where withheld), first row at the top, rule at zero."""
    y = np.arange(len(est))[::-1].astype(float) if y is None else y
    colors = list(colors) if colors is not None else _sign_colors(low, high)
    ax.axvline(0, color="#222222", linewidth=0.8, zorder=1)
    shown = np.isfinite(low) & np.isfinite(high)
    ax.hlines(
        y[shown],
        low[shown],
        high[shown],
        colors=[c for c, s in zip(colors, shown, strict=True) if s],
        linewidth=1.6,
        zorder=2,
    )
    ax.scatter(est, y, c=colors, s=22, zorder=3, marker=marker)
    if labels:
        ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)


def _level_labels(frame: pd.DataFrame, value: str = "value") -> list[str]:
    """`level  (n=…)`, and a word on rows whose interval was withheld."""
    return [f"{v}  (n={_n(n)})" + ("  no interval" if isinstance(note, str) and note else "")
            for v, n, note in zip(frame[value], frame["n_tokens"], frame["note"], strict=True)]  # fmt: skip


def _category(results: Results, feature: str) -> pd.DataFrame | None:
    if results.categories is None:
        return None
    frame = results.categories[results.categories["feature"] == feature]
    return None if frame.empty else frame.reset_index(drop=True)


def split_values(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Name a crossed category's levels: its level_1, level_2, … columns (e.g. `python`, `close`) as `names`."""
    columns = [f"level_{i + 1}" for i in range(len(names))]
    if frame[columns].eq("").any().any():
        raise ValueError(f"levels of {frame['feature'].iloc[0]!r} do not have {len(names)} parts")
    return frame.assign(**{name: frame[column] for name, column in zip(names, columns, strict=True)})


def _gap_label(results: Results) -> str:
    s = results.summary
    return f"gap (nats) = loss({s.baseline}) − loss({s.candidate})"


def _intervals(results: Results) -> str:
    """What the whiskers are, in words."""
    s = results.summary
    pct = round(100 * s.confidence)
    if s.interval == "bootstrap":
        method = f"{pct}% intervals from {s.bootstrap:,} bootstrap resamples of documents"
    else:
        method = f"{pct}% intervals from standard errors clustered by document (CR2, t with Bell–McCaffrey degrees of freedom)"
    return (f"Whiskers: {method}. A grey point without whiskers has fewer than {s.min_eff_docs:g} effective documents: "
            "no interval is drawn for it.")  # fmt: skip


def _sign_words(results: Results, *, vertical: bool = False) -> str:
    """The sign convention in words, for a gap on the horizontal axis (right of zero) or the vertical (above)."""
    s = results.summary
    where, sides = ("above zero", "above/below") if vertical else ("right of zero", "right/left of")
    return (
        f"Gap = loss({s.baseline}) − loss({s.candidate}) in nats per token: {where}, {s.candidate} "
        f"predicts better; blue/red when the interval lies wholly {sides} zero."
    )


_FAMILY_WORDS = {
    "word_class": lambda r: "content words − function words",
    "existential_there": lambda r: "existential 'there' − other function words",
    "brackets": lambda r: f"closing − opening brackets ({r.scope.replace('domain type: ', '').replace('kind: ', '')})",
    "repetition": lambda r: "repeated n-gram (repeat_len ≥ 2) − not repeated",
    "repeat_len_bin": lambda r: f"repeat_len {r.level} − never seen (0)",
    "upos": lambda r: f"{r.level} − all prose tokens",
}


def contrast_label(row: pd.Series) -> str:
    """A contrast in words, e.g. "closing − opening brackets (code)"."""
    words = _FAMILY_WORDS.get(row.family)
    return words(row) if words else f"{row.family.removeprefix('by ')}: {row.level} − {row.reference}"


def _contrasts_figure(results: Results) -> Drawn | None:
    frame = results.contrasts
    if frame is None or frame.empty:
        return None
    main = frame[frame["family"].isin(["word_class", "existential_there", "brackets", "repetition"])
                 | frame["family"].str.startswith("by ")]  # fmt: skip
    if main.empty:
        return None
    main = main[main["scale"] == "nats"]
    raw, adjusted = (
        main[main["method"] == "raw"].reset_index(drop=True),
        main[main["method"] == "adjusted"].reset_index(drop=True),
    )
    labels = [f"{contrast_label(r)}  (n={_n(r.n_tokens)})" for r in raw.itertuples()]
    fig = Figure(figsize=(7.2, 1.0 + 0.34 * len(raw)))
    ax = fig.subplots()
    y = np.arange(len(raw))[::-1].astype(float)
    _forest(
        ax,
        labels,
        raw["estimate"].to_numpy(float),
        raw["ci_low"].to_numpy(float),
        raw["ci_high"].to_numpy(float),
        y=y + 0.14,
    )
    if len(adjusted) == len(raw):
        _forest(ax, [], adjusted["estimate"].to_numpy(float), adjusted["ci_low"].to_numpy(float),
                adjusted["ci_high"].to_numpy(float), y=y - 0.14, marker="s")  # fmt: skip
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(raw) - 0.3)
    ax.set_xlabel(f"difference in gap (nats); right of zero: {results.summary.candidate}'s lead is larger on the first")
    ax.scatter([], [], marker="o", color=NEUTRAL, label="raw means")
    ax.scatter(
        [], [], marker="s", color=NEUTRAL, label="holding rarity, position, repetition, word piece, domain fixed"
    )
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, borderaxespad=0.3)
    fig.tight_layout()
    return Drawn("contrasts", "Where the lead differs: the study's contrasts",
                 "Each row compares the gap on two kinds of tokens, e.g. content words minus function words: a positive "
                 f"value means {results.summary.candidate}'s lead over {results.summary.baseline} is larger on the "
                 "first kind. Circles: the raw difference of the two kinds' mean gaps. Squares: the same difference "
                 "holding rarity, position, repetition, the token's place in its word and the domain fixed (a regression "
                 "on every token; how it was fitted is under 'How the adjusted contrasts were fitted' below). "
                 + _intervals(results) + " contrasts.csv adds Holm-adjusted p-values within each family.", fig)  # fmt: skip


def _pos_figure(results: Results) -> Drawn | None:
    upos, word_class = _category(results, "upos"), _category(results, "word_class")
    panels = [(f, t) for f, t in ((upos, "by part of speech (UPOS)"), (word_class, "content vs function words"))
              if f is not None]  # fmt: skip
    if not panels:
        return None
    heights = [len(f) for f, _ in panels]
    fig = Figure(figsize=(6.4, 0.9 + 0.24 * sum(heights) + 0.5 * len(panels)))
    axes = fig.subplots(len(panels), 1, gridspec_kw={"height_ratios": [h + 1.5 for h in heights]}, squeeze=False)
    for ax, (frame, title) in zip(axes[:, 0], panels, strict=True):
        frame = frame.sort_values("mean_gap", ascending=False)
        _forest(ax, _level_labels(frame), frame["mean_gap"].to_numpy(float), frame["ci_low"].to_numpy(float),
                frame["ci_high"].to_numpy(float))  # fmt: skip
        ax.set_ylim(-0.7, len(frame) - 0.3)
        ax.set_title(title, loc="left")
        ax.set_xlabel(_gap_label(results))
    fig.tight_layout()
    return Drawn(
        "word-class",
        "Gap by word class",
        "Mean gap per token for each Universal POS tag and for content vs function words (prose only). "
        + _sign_words(results)
        + " "
        + _intervals(results),
        fig,
    )


def _bracket_figure(results: Results) -> Drawn | None:
    panels = []
    for feature, title in (("domain_type+bracket_side", "by domain type"), ("domain+bracket_side", "by domain")):
        frame = _category(results, feature)
        if frame is None:
            continue
        frame = split_values(frame, ["where", "side"])
        frame = frame[frame["side"].isin(["open", "close"])]
        if not frame.empty:
            panels.append((frame, title))
    if not panels:
        return None
    sizes = [frame["where"].nunique() for frame, _ in panels]
    fig = Figure(figsize=(6.8, 1.0 + 0.5 * sum(sizes) + 0.4 * len(panels)))
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": [s + 1 for s in sizes]})
    for ax, (frame, title) in zip(axes[:, 0], panels, strict=True):
        places = sorted(frame["where"].unique())
        base_y = {d: len(places) - 1 - i for i, d in enumerate(places)}
        ax.axvline(0, color="#222222", linewidth=0.8)
        labels = {}
        for side, offset, marker, color in (("open", 0.16, "o", OPEN), ("close", -0.16, "s", CLOSE)):
            part = frame[frame["side"] == side]
            y = np.array([base_y[d] for d in part["where"]], dtype=float) + offset
            low, high = part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float)
            shown = np.isfinite(low) & np.isfinite(high)
            ax.hlines(y[shown], low[shown], high[shown], color=color, linewidth=1.6)
            colors = [color if s else WITHHELD for s in shown]
            ax.scatter(part["mean_gap"], y, marker=marker, c=colors, s=26, zorder=3,
                       edgecolors=[color] * len(colors), linewidths=0.8, label=f"{side} brackets")  # fmt: skip
            for d, n in zip(part["where"], part["n_tokens"], strict=True):
                labels.setdefault(d, []).append(f"{side} n={_n(n)}")
        ax.set_yticks(list(base_y.values()), [f"{d}  ({', '.join(labels.get(d, []))})" for d in base_y])
        ax.set_ylim(-0.6, len(places) - 0.4)
        ax.grid(axis="y", visible=False)
        ax.set_title(title, loc="left")
        ax.set_xlabel(_gap_label(results))
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return Drawn("brackets", "Opening vs closing brackets",
                 "Mean gap on opening (purple circles) and closing (orange squares) delimiters — round, square and curly "
                 "brackets, the '<' of an HTML start tag and the '</' and '>' of an end tag, \\begin and \\end — by domain "
                 "type (prose, code, markup) and by domain; a token that both opens and closes (such as '()') is in "
                 "neither. " + _sign_words(results).split(";")[0] + ". " + _intervals(results).replace("grey point", "light grey point"),
                 fig)  # fmt: skip


def _repeat_figure(results: Results) -> Drawn | None:
    curve = results.repeat_curve
    if curve is None or curve.empty:
        return None
    kinds = [(k, t) for k, t in (("repeat_len", "by length of the repeated n-gram (tokens)"),
                                  ("repeat_dist", "by distance to its earlier copy (tokens)"))
             if (curve["kind"] == k).any()]  # fmt: skip
    if not kinds:
        return None
    fig = Figure(figsize=(3.6 * len(kinds) + 0.4, 3.3))
    axes = fig.subplots(1, len(kinds), squeeze=False)  # each panel its own y-axis: long n-grams differ a lot
    for ax, (kind, title) in zip(axes[0], kinds, strict=True):
        part = curve[curve["kind"] == kind].sort_values("bin_order")
        x = np.arange(len(part))
        low, high, mean = (part[c].to_numpy(float) for c in ("ci_low", "ci_high", "mean_gap"))
        shown = np.isfinite(low) & np.isfinite(high)
        ax.axhline(0, color="#222222", linewidth=0.8)
        ax.fill_between(
            x, np.where(shown, low, np.nan), np.where(shown, high, np.nan), color=WINS, alpha=0.18, linewidth=0
        )
        ax.plot(x, np.where(shown, mean, np.nan), color=WINS, linewidth=1.4)
        ax.scatter(x, mean, c=[WINS if s else WITHHELD for s in shown], s=12, zorder=3)
        step = -(-len(part) // 8)  # at most 8 labels
        ticks = [f"{b}\nn={_n(n)}" for b, n in zip(part["bin"], part["n_tokens"], strict=True)]
        # rotated: a bin's range and count ("1024-4095 / n=1,234") are wider than the space between two bins
        ax.set_xticks(x[::step], ticks[::step], fontsize=7, rotation=90)
        ax.set_title(title, loc="left")
        ax.set_ylabel("gap (nats)")
    fig.tight_layout()
    return Drawn("repeats", "Gap on repeated text",
                 "Mean gap on tokens that end an n-gram seen earlier in the context, by the length of that n-gram (left) "
                 "and by how far back its latest copy lies (right); n under each bin is its number of tokens. The two "
                 "panels have their own vertical scales. Shaded: intervals, where there are enough documents for one; "
                 "grey points have none. " + _sign_words(results, vertical=True).split(";")[0] + ".", fig)  # fmt: skip


def _domain_figure(results: Results) -> Drawn | None:
    frame = _category(results, "domain")
    if frame is None:
        return None
    frame = frame.sort_values("mean_gap", ascending=False)
    fig = Figure(figsize=(6.4, 0.9 + 0.26 * len(frame)))
    ax = fig.subplots()
    _forest(ax, _level_labels(frame), frame["mean_gap"].to_numpy(float), frame["ci_low"].to_numpy(float),
            frame["ci_high"].to_numpy(float))  # fmt: skip
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.set_xlabel(_gap_label(results))
    fig.tight_layout()
    return Drawn("domains", "Gap per domain", "Mean gap per token in each domain. " + _sign_words(results) + " "
                 + _intervals(results), fig)  # fmt: skip


def _share_figure(results: Results) -> Drawn | None:
    """Where the gap lives: each part of speech's share of the total gap against its share of the tokens."""
    frame = _category(results, "upos")
    if frame is None or "share_of_gap" not in frame or frame["share_of_gap"].isna().all():
        return None
    fig = Figure(figsize=(5.2, 4.4))
    ax = fig.subplots()
    x, y = frame["share_of_tokens"].to_numpy(float), frame["share_of_gap"].to_numpy(float)
    low, high = frame["share_ci_low"].to_numpy(float), frame["share_ci_high"].to_numpy(float)
    shown = np.isfinite(low) & np.isfinite(high)
    top = float(np.nanmax(np.r_[x, y, high[shown] if shown.any() else []])) * 1.1
    ax.plot([0, top], [0, top], color="#888888", linewidth=0.8, linestyle="--")  # share of gap = share of tokens
    ax.axhline(0, color="#222222", linewidth=0.8)
    ax.vlines(x[shown], low[shown], high[shown], color=WINS, linewidth=1.2)
    ax.scatter(x, y, c=[WINS if s else WITHHELD for s in shown], s=18, zorder=3)
    for xi, yi, label in zip(x, y, frame["value"], strict=True):
        ax.annotate(label, (xi, yi), xytext=(3, 3), textcoords="offset points", fontsize=7)
    ax.set_xlim(0, top)
    ax.set_xlabel("share of the tokens")
    ax.set_ylabel("share of the total gap")
    fig.tight_layout()
    return Drawn("shares", "Where the gap lives: share of the gap against share of the tokens",
                 f"Each part of speech (prose): its share of the total summed gap between {results.summary.baseline} "
                 f"and {results.summary.candidate} (vertical; whiskers: t intervals over documents) against its share "
                 "of the compared tokens (horizontal). Above the dashed diagonal a category holds more of the gap "
                 "than of the tokens. Shares are only as meaningful as the total gap they divide; grey points have too "
                 "few documents for an interval.", fig)  # fmt: skip


def _probes_figure(results: Results) -> Drawn | None:
    frame = _category(results, PROBE_GROUPING)
    if frame is None:
        return None
    frame = split_values(frame, ["probe", "level"])
    frame["level"] = frame["level"].astype(int)
    sources = _category(results, PROBE_SOURCE_GROUPING)  # absent in runs annotated before the column existed
    if sources is not None:
        sources = split_values(sources, ["probe", "level"])
        sources["level"] = sources["level"].astype(int)
    probes = list(dict.fromkeys(frame["probe"]))
    record = results.probes
    copies = () if record is None else record.copy_probes
    fig, axes = _panels(len(probes))
    s = results.summary
    for ax, probe in zip(axes.flat, probes, strict=False):  # a grid can hold more panels than probes
        part = frame[frame["probe"] == probe].sort_values("level")
        for column, name, colour in (
            ("mean_loss_baseline", s.baseline, LOSES),
            ("mean_loss_candidate", s.candidate, WINS),
        ):
            ax.plot(part["level"], part[column], color=colour, marker="o", markersize=3, linewidth=1.3, label=name)
            if probe in copies and sources is not None:  # the first copy: what the second costs without copying
                first = sources[sources["probe"] == probe].sort_values("level")
                ax.plot(first["level"], first[column], color=colour, linestyle="--", linewidth=1.0,
                        label=f"{name}, first copy")  # fmt: skip
        levels = part["level"].to_numpy(float)
        if (levels > 0).all() and levels.max() / levels.min() >= 16:
            ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(int(v)) for v in levels])
        ax.minorticks_off()
        ax.set_title(f"{probe}  (n={_n(part['n_tokens'].sum())})", loc="left")
        ax.set_xlabel("level" if record is None else record.level_meaning.get(probe, "level"))
    _finish_panels(fig, axes, "mean loss on marked tokens (nats)")
    return Drawn("probes", "Probes: loss on the marked tokens by difficulty",
                 "Mean loss (nats, lower is better) of each model on the tokens each probe marks (the copied string after "
                 "its first token, the recalled value, the tracked container, the possessive pronoun, each closing "
                 "bracket), at each difficulty; n in each title is the number of marked tokens. Where a line rises with "
                 "difficulty and the other stays low, one model's mechanism breaks and the other's does not "
                 "(docs/probes.md). " + (_FIRST_COPY if sources is not None and set(copies) & set(probes) else "")
                 + f"The gap per level, with intervals, is in categories.csv (feature {PROBE_GROUPING}; the sources: "
                 f"{PROBE_SOURCE_GROUPING}).", fig)  # fmt: skip


_FIRST_COPY = ("Dashed, in the copy panels: the same model's loss on the first copy of the string, which cannot be "
               "copied; a model that copies stays far below it, one that does not lies on it. ")  # fmt: skip


def _distribution_figure(results: Results) -> Drawn | None:
    """Beyond the true token: per part of speech (else word class), the entropy gap and the top-1 difference."""
    table = results.distribution
    if table is None or table.empty or results.summary is None:
        return None
    feature = "upos" if (table["feature"] == "upos").any() else "word_class"
    frame = pd.concat([table[table["feature"] == "all"], table[table["feature"] == feature]], ignore_index=True)
    if len(frame) < 2:
        return None
    s = results.summary
    has_div = frame["divergence"].notna().any()
    fig = Figure(figsize=(10.5 if has_div else 7.4, 0.9 + 0.28 * len(frame)))
    axes = fig.subplots(1, 3 if has_div else 2, sharey=True)
    labels = [f"{v}  (n={_n(n)})" for v, n in zip(frame["value"], frame["n_tokens"], strict=True)]
    panels = [("entropy_gap", f"entropy({s.baseline}) − entropy({s.candidate}), nats"),
              ("top1_diff", f"top-1({s.candidate}) − top-1({s.baseline})")]  # fmt: skip
    if has_div:
        panels.append(("divergence", "Jensen–Shannon divergence (top-k), nats"))
    for k, (ax, (column, xlabel)) in enumerate(zip(axes, panels, strict=True)):
        _forest(ax, labels if k == 0 else [], frame[column].to_numpy(float), frame[f"{column}_ci_low"].to_numpy(float),
                frame[f"{column}_ci_high"].to_numpy(float))  # fmt: skip
        ax.set_ylim(-0.7, len(frame) - 0.3)
        ax.set_xlabel(xlabel)
    fig.tight_layout()
    return Drawn("distribution", "Beyond the true token: uncertainty, accuracy and disagreement",
                 f"Per {'part of speech' if feature == 'upos' else 'word class'} (and all tokens): the mean entropy "
                 f"of {s.baseline}'s next-token distribution minus {s.candidate}'s (right of zero: {s.candidate} is "
                 f"more certain); the share of tokens {s.candidate} ranks first minus {s.baseline}'s (right of zero: "
                 f"{s.candidate} is more often right)" + ("; and the mean Jensen–Shannon divergence between the two "
                 "models' distributions, computed on their top-k tokens (a lower estimate; distribution.csv gives its "
                 "upper bound)" if has_div else "") + ". " + _intervals(results), fig)  # fmt: skip


def _slices_figure(results: Results) -> Drawn | None:
    """A slice search's selected slices: held-out gap minus the rest's, with intervals."""
    frame, search = results.slices, results.discover
    if frame is None or frame.empty or search is None:
        return None
    fig = Figure(figsize=(7.2, 0.9 + 0.3 * len(frame)))
    ax = fig.subplots()
    labels = [f"{c}  (n={_n(n)})" for c, n in zip(frame["conditions"], frame["n_tokens"], strict=True)]
    _forest(ax, labels, frame["diff"].to_numpy(float), frame["diff_ci_low"].to_numpy(float),
            frame["diff_ci_high"].to_numpy(float))  # fmt: skip
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.set_xlabel(f"slice − rest: gap (nats) = loss({search.baseline}) − loss({search.candidate})")
    fig.tight_layout()
    pct = round(100 * search.confidence)
    return Drawn("slices", "Slices found: their gap minus the rest's, on the held-out half",
                 f"Each slice selected on the search half ({search.n_docs_search:,} documents), its mean gap minus that "
                 f"of every other token, estimated on the other {search.n_docs_held:,} documents with {pct}% intervals "
                 f"({'CR2, clustered by document' if search.interval == 'cr2' else 'bootstrap over documents'}); right "
                 f"of zero, {search.candidate}'s lead is larger on the slice than elsewhere. Blue/red when the interval "
                 "lies wholly right/left of zero.", fig)  # fmt: skip


def _panels(n: int, width: float = 2.6, height: float = 2.3) -> tuple[Figure, np.ndarray]:
    cols = min(3, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols + 1.6, height * rows + 0.3))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes


def _finish_panels(fig: Figure, axes: np.ndarray, ylabel: str) -> None:
    """The y label on the left column and one legend for all panels, to the right."""
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    fig.tight_layout()


def _step_axis(ax, *, log: bool) -> None:  # type: ignore[no-untyped-def]
    """A training-step axis: log-scaled, or ticks at whole steps only (no step 1.5 between checkpoints 1 and 2)."""
    ax.set_xlabel("training step")
    if log:
        ax.set_xscale("log")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# A caption's words for a series figure drawn without any interval.
_NO_INTERVALS = (
    "No intervals are drawn: no point has enough effective documents for one (the reason is in each row's "
    "note column of the results file; `lossgap curves --min-eff-docs` lowers the threshold)."
)


def _mask_panels(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    """One panel per mask of a series table: (masks, series in order, figure, axes, palette)."""
    masks = list(dict.fromkeys(frame["mask"]))
    fig, axes = _panels(len(masks))
    return masks, list(dict.fromkeys(frame["series"])), fig, axes, matplotlib.colormaps["tab10"]


def _curves_figure(results: Results) -> Drawn | None:
    curves = results.curves
    if curves is None or curves.empty:
        return None
    masks, series, fig, axes, palette = _mask_panels(curves)
    steps = curves["step"].to_numpy(float)
    log_steps = bool((steps > 0).all() and steps.max() / steps.min() >= 30)  # checkpoints are often log-spaced
    for ax, mask in zip(axes.flat, masks, strict=False):  # a grid can hold more panels than masks
        for i, name in enumerate(series):
            part = curves[(curves["mask"] == mask) & (curves["series"] == name)].sort_values("step")
            if part.empty:
                continue
            ax.fill_between(part["step"], part["ci_low"], part["ci_high"], color=palette(i), alpha=0.15, linewidth=0)
            ax.plot(
                part["step"], part["mean_loss"], color=palette(i), marker="o", markersize=2.5, linewidth=1.3, label=name
            )
        n = curves[curves["mask"] == mask]["n_tokens"].iloc[0]
        ax.set_title(f"{mask}  (n={_n(n)})", loc="left")
        _step_axis(ax, log=log_steps)
    _finish_panels(fig, axes, "mean loss (nats)")
    shading = ("Shaded: intervals of each checkpoint's loss alone; these are wide because documents differ in difficulty, "
               "so compare series with the paired differences in the next figure."
               if curves["ci_low"].notna().any() else _NO_INTERVALS)  # fmt: skip
    return Drawn("curves", "Filtered losses across checkpoints",
                 "Mean loss (nats, lower is better) of each model series at each training checkpoint, on the tokens each "
                 f"filter selects (one panel per filter, n tokens in its title{'; steps on a log scale' if log_steps else ''}). "
                 + shading, fig)  # fmt: skip


def _curves_diff_figure(results: Results) -> Drawn | None:
    diff = results.curves_diff
    if diff is None or diff.empty:
        return None
    masks, series, fig, axes, palette = _mask_panels(diff)
    reference = diff["reference"].iloc[0]
    for ax, mask in zip(axes.flat, masks, strict=False):  # a grid can hold more panels than masks
        ax.axhline(0, color="#222222", linewidth=0.8)
        for i, name in enumerate(series, start=1):
            part = diff[(diff["mask"] == mask) & (diff["series"] == name)].sort_values("step")
            if part.empty:
                continue
            ax.fill_between(part["step"], part["ci_low"], part["ci_high"], color=palette(i), alpha=0.18, linewidth=0)
            ax.plot(part["step"], part["estimate"], color=palette(i), marker="o", markersize=2.5, linewidth=1.3,
                    label=f"{reference} − {name}")  # fmt: skip
            if mask != "all":
                ax.plot(part["step"], part["did_estimate"], color=palette(i), linestyle=":", linewidth=1.1)
        ax.set_title(mask, loc="left")
        _step_axis(ax, log=False)
    _finish_panels(fig, axes, "loss difference (nats)")
    shading = ("Shaded: paired intervals, which are narrow because the documents' difficulty cancels out of a difference."
               if diff["ci_low"].notna().any() else _NO_INTERVALS)  # fmt: skip
    return Drawn("curves-diff", "Paired differences between series",
                 f"Mean loss of {reference} minus that of each other series at the same step, on the same tokens (above "
                 f"zero: the other series is better). {shading} Dotted: the difference-in-differences, the filtered "
                 "difference minus the difference over all tokens (above zero: the lead is larger on these tokens than "
                 "overall).", fig)  # fmt: skip


def _training_figure(results: Results) -> Drawn | None:
    training = results.training
    if training is None or training.empty:
        return None
    masks, series, fig, axes, palette = _mask_panels(training)
    annealed = False
    for ax, mask in zip(axes.flat, masks, strict=False):  # a grid can hold more panels than masks
        for i, name in enumerate(series):
            part = training[(training["mask"] == mask) & (training["series"] == name)]
            main = part[part["branch"].isna()].sort_values("step")
            ax.plot(main["step"], main["mean_loss"], color=palette(i), linewidth=1.3, label=name)
            branches = part[part["branch"].notna()]
            if not branches.empty:
                annealed = True
                ax.plot(branches["step"], branches["mean_loss"], linestyle="none", marker="D", markersize=3.5,
                        color=palette(i))  # fmt: skip
        ax.set_title(mask, loc="left")
        _step_axis(ax, log=False)
    _finish_panels(fig, axes, "mean loss (nats)")
    return Drawn("training", "Filtered losses while training",
                 "The in-loop evaluator's mean loss (nats, lower is better) of each series on the tokens each filter "
                 "selects, as logged during training: lines on the main run"
                 + ("; diamonds at the end of each annealing branch." if annealed else ".")
                 + " No intervals: these are the training loop's own numbers; the checkpoint figures above have them.",
                 fig)  # fmt: skip


_MAKERS: tuple[Callable[[Results], Drawn | None], ...] = (
    _slices_figure,
    _contrasts_figure,
    _distribution_figure,
    _pos_figure,
    _bracket_figure,
    _repeat_figure,
    _domain_figure,
    _share_figure,
    _probes_figure,
    _curves_figure,
    _curves_diff_figure,
    _training_figure,
)


def draw_figures(results: Results) -> list[Drawn]:
    """Every figure whose tables exist, in the order the report shows them."""
    with matplotlib.rc_context(_RC):
        return [drawn for make in _MAKERS if (drawn := make(results)) is not None]


def build_figures(results: Results) -> list[SvgFigure]:
    """Every figure, rendered to SVG."""
    with matplotlib.rc_context(_RC):
        return [SvgFigure(d.key, d.title, d.caption, _svg(d.key, d.figure)) for d in draw_figures(results)]
