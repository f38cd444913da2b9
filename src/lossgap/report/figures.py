"""The report's figures, drawn with matplotlib from the results tables and returned as SVG text.

Each figure function takes the tables it needs and returns a `Figure`, or None when its table is absent.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lossgap.report.load import Results  # noqa: E402

__all__ = ["Figure", "build_figures", "split_values", "term_label"]

WINS = "#2166ac"  # candidate better (gap > 0); the viewer uses the same pair
LOSES = "#b2182b"
NEUTRAL = "#7a7a7a"
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
class Figure:
    """One figure: `key` names it (an HTML id and a file name), `svg` is a standalone SVG document."""

    key: str
    title: str
    caption: str
    svg: str

    @property
    def inline_svg(self) -> str:
        """The <svg> element without the XML prolog, for embedding in HTML."""
        return self.svg[self.svg.index("<svg"):]


def _render(key: str, fig: plt.Figure) -> str:
    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": f"lossgap-{key}"}):  # deterministic ids, distinct between figures
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = re.sub(r"<!--.*?-->\s*", "", buf.getvalue(), flags=re.S)
    # Prefix every id and reference with the figure's key: ids stay unique when several SVGs share a page.
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{key}-\1)", svg)
    return re.sub(r'href="#([^"]+)"', rf'href="#{key}-\1"', svg)


def _sign_colors(low: np.ndarray, high: np.ndarray) -> list[str]:
    """Blue when the whole interval is above zero, red when below, grey when it contains zero."""
    return [WINS if lo > 0 else LOSES if hi < 0 else NEUTRAL for lo, hi in zip(low, high)]


def _forest(ax: plt.Axes, frame: pd.DataFrame, label_col: str, *, est: str = "mean_gap", with_n: bool = True) -> None:
    """Horizontal estimates with interval whiskers, first row at the top, a rule at zero."""
    y = np.arange(len(frame))[::-1]
    low, high, mid = frame["ci_low"].to_numpy(float), frame["ci_high"].to_numpy(float), frame[est].to_numpy(float)
    colors = _sign_colors(low, high)
    ax.axvline(0, color="#222222", linewidth=0.8, zorder=1)
    ax.hlines(y, low, high, colors=colors, linewidth=1.6, zorder=2)
    ax.scatter(mid, y, c=colors, s=22, zorder=3)
    labels = [str(v) for v in frame[label_col]]
    if with_n and "n_tokens" in frame:
        labels = [f"{lab}  (n={int(n):,})" for lab, n in zip(labels, frame["n_tokens"])]
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.grid(axis="y", visible=False)


def _category(results: Results, feature: str) -> pd.DataFrame | None:
    if results.categories is None:
        return None
    frame = results.categories[results.categories["feature"] == feature]
    return None if frame.empty else frame.reset_index(drop=True)


def split_values(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Split a combined category's `value` (e.g. `python|close`) into one column per name."""
    parts = frame["value"].str.split("|", n=len(names) - 1, expand=True)
    if parts.shape[1] != len(names):
        raise ValueError(f"values of {frame['feature'].iloc[0]!r} do not have {len(names)} parts joined by '|'")
    out = frame.copy()
    for i, name in enumerate(names):
        out[name] = parts[i]
    return out


def _gap_label(results: Results) -> str:
    s = results.summary
    return f"gap (nats) = loss({s.baseline}) − loss({s.candidate})"


def _sign_words(results: Results, *, band: bool = False) -> str:
    """The sign convention and what the intervals are, in words, for a caption."""
    s = results.summary
    pct = round(100 * s.confidence)
    where = "above zero" if band else "right of zero"
    intervals = (f"Shaded: {pct}% intervals, bootstrap over documents." if band else
                 f"Whiskers: {pct}% intervals, bootstrap over documents; blue/red when the interval excludes zero.")
    return (f"Gap = loss({s.baseline}) − loss({s.candidate}) in nats per token: {where}, {s.candidate} "
            f"predicts better. {intervals}")


def _pos_figure(results: Results) -> Figure | None:
    upos, word_class = _category(results, "upos"), _category(results, "word_class")
    panels = [(f, t) for f, t in ((upos, "by part of speech (UPOS)"), (word_class, "content vs function words"))
              if f is not None]
    if not panels:
        return None
    heights = [len(f) for f, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 0.9 + 0.24 * sum(heights) + 0.5 * len(panels)),
                             gridspec_kw={"height_ratios": [h + 1.5 for h in heights]}, squeeze=False)
    for ax, (frame, title) in zip(axes[:, 0], panels):
        _forest(ax, frame.sort_values("mean_gap", ascending=False), "value")
        ax.set_title(title, loc="left")
    axes[-1, 0].set_xlabel(_gap_label(results))
    fig.tight_layout()
    return Figure("word-class", "Gap by word class",
                  "Mean gap per token for each Universal POS tag and for content vs function words. " + _sign_words(results),
                  _render("word-class", fig))


def _bracket_figure(results: Results) -> Figure | None:
    frame = _category(results, "domain+bracket_side")
    if frame is None:
        return None
    frame = split_values(frame, ["domain", "side"])
    frame = frame[frame["side"].isin(["open", "close"])]
    if frame.empty:
        return None
    domains = sorted(frame["domain"].unique())
    fig, ax = plt.subplots(figsize=(6.4, 1.0 + 0.42 * len(domains)))
    ax.axvline(0, color="#222222", linewidth=0.8)
    base_y = {d: len(domains) - 1 - i for i, d in enumerate(domains)}
    for side, offset, marker, color in (("open", 0.14, "o", "#8c6bb1"), ("close", -0.14, "s", "#e08214")):
        part = frame[frame["side"] == side]
        y = np.array([base_y[d] for d in part["domain"]]) + offset
        ax.hlines(y, part["ci_low"], part["ci_high"], color=color, linewidth=1.6)
        ax.scatter(part["mean_gap"], y, marker=marker, color=color, s=26, label=f"{side} brackets", zorder=3)
    ax.set_yticks(list(base_y.values()), list(base_y.keys()))
    ax.set_ylim(-0.6, len(domains) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(_gap_label(results))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return Figure("brackets", "Opening vs closing brackets, per domain",
                  "Mean gap on opening and closing delimiters (parentheses, brackets, braces, tags, LaTeX "
                  "environments) in each domain. " + _sign_words(results),
                  _render("brackets", fig))


def _repeat_figure(results: Results) -> Figure | None:
    curve = results.repeat_curve
    if curve is None or curve.empty:
        return None
    kinds = [(k, t) for k, t in (("repeat_len", "by length of the repeated n-gram (tokens)"),
                                  ("repeat_dist", "by distance to its earlier copy (tokens)"))
             if (curve["kind"] == k).any()]
    if not kinds:
        return None
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.3 * len(kinds) + 0.4, 2.9), squeeze=False, sharey=True)
    for ax, (kind, title) in zip(axes[0], kinds):
        part = curve[curve["kind"] == kind].sort_values("bin_order")
        x = np.arange(len(part))
        ax.axhline(0, color="#222222", linewidth=0.8)
        ax.fill_between(x, part["ci_low"], part["ci_high"], color=WINS, alpha=0.18, linewidth=0)
        ax.plot(x, part["mean_gap"], color=WINS, marker="o", markersize=3, linewidth=1.4)
        step = -(-len(part) // 8)  # at most 8 labels
        ax.set_xticks(x[::step], part["bin"].tolist()[::step], rotation=45 if kind == "repeat_dist" else 0,
                      ha="right" if kind == "repeat_dist" else "center")
        ax.set_title(title, loc="left")
    axes[0, 0].set_ylabel("gap (nats)")
    fig.tight_layout()
    return Figure("repeats", "Gap on repeated text",
                  "Mean gap on tokens that end an n-gram seen earlier in the context, by the length of that "
                  "n-gram (left) and by how far back its latest copy lies (right). " + _sign_words(results, band=True),
                  _render("repeats", fig))


_TERM = re.compile(r"^C\((?P<name>[^,()]+)(?:,[^()]*(?:\([^()]*\))?[^()]*)?\)\[(?:T\.|S\.)?(?P<level>[^\]]*)\]$")

_PLAIN_TERM = re.compile(r"^(?P<name>\w+)\[(?:T\.|S\.)?(?P<level>[^\]]*)\]$")


def term_label(term: str) -> str:
    """A readable label for a patsy-style term: `C(bracket_side, Treatment('none'))[T.close]` -> `bracket_side = close`."""
    match = _TERM.match(term) or _PLAIN_TERM.match(term)
    return f"{match['name'].strip()} = {match['level']}" if match else term


def _sentences(text: str | None) -> str:
    """Lines of a text file as sentences: each stripped and ended with a full stop if it has no punctuation."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return " ".join(ln if ln[-1] in ".;:!?" else ln + "." for ln in lines)


def _regression_figure(results: Results) -> Figure | None:
    frame = results.regression
    if frame is None:
        return None
    intercept = frame["term"].str.lower().isin(["intercept", "const", "(intercept)"])
    frame = frame[~intercept]
    if frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.26 * len(frame)))
    frame = frame.assign(label=[term_label(t) for t in frame["term"]])
    _forest(ax, frame.rename(columns={"coef": "mean_gap"}), "label", with_n=False)
    ax.set_xlabel("coefficient (nats of gap)")
    fig.tight_layout()
    model = _sentences(results.regression_formula)
    return Figure("regression", "Regression of the gap on token features",
                  "Coefficients of a linear regression of the per-token gap on the token's features, each holding "
                  f"the others fixed{' (intercept not drawn)' if intercept.any() else ''}; whiskers: the intervals "
                  f"in regression.csv. A positive coefficient means a larger gap, i.e. in favour of "
                  f"{results.summary.candidate}." + (f" Model: {model}" if model else ""),
                  _render("regression", fig))


def _domain_figure(results: Results) -> Figure | None:
    frame = _category(results, "domain")
    if frame is None:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.9 + 0.26 * len(frame)))
    _forest(ax, frame.sort_values("mean_gap", ascending=False), "value")
    ax.set_xlabel(_gap_label(results))
    fig.tight_layout()
    return Figure("domains", "Gap per domain", "Mean gap per token in each domain. " + _sign_words(results),
                  _render("domains", fig))


def _curves_figure(results: Results) -> Figure | None:
    curves = results.curves
    if curves is None or curves.empty:
        return None
    masks = list(dict.fromkeys(curves["mask"]))
    cols = min(3, len(masks))
    rows = -(-len(masks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.5 * cols + 1.6, 2.3 * rows + 0.3), squeeze=False)
    palette = plt.get_cmap("tab10")
    series = list(dict.fromkeys(curves["series"]))
    steps = curves["step"].to_numpy(float)
    log_steps = bool((steps > 0).all() and steps.max() / steps.min() >= 30)  # checkpoints are often log-spaced
    for ax, mask in zip(axes.flat, masks):
        for i, name in enumerate(series):
            part = curves[(curves["mask"] == mask) & (curves["series"] == name)].sort_values("step")
            if part.empty:
                continue
            ax.fill_between(part["step"], part["ci_low"], part["ci_high"], color=palette(i), alpha=0.15, linewidth=0)
            ax.plot(part["step"], part["mean_loss"], color=palette(i), marker="o", markersize=2.5, linewidth=1.3,
                    label=name)
        ax.set_title(mask, loc="left")
        ax.set_xlabel("training step")
        if log_steps:
            ax.set_xscale("log")
    for ax in axes.flat[len(masks):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("mean loss (nats)")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    fig.tight_layout()
    return Figure("curves", "Filtered losses across checkpoints",
                  "Mean loss (nats, lower is better) of each model series at each training checkpoint, on the "
                  f"tokens selected by each filter (one panel per filter{'; steps on a log scale' if log_steps else ''}); shaded: "
                  f"{round(100 * results.summary.confidence)}% bootstrap intervals over documents.",
                  _render("curves", fig))


def build_figures(results: Results) -> list[Figure]:
    """Every figure whose tables exist, in the order the report shows them."""
    makers = (_pos_figure, _bracket_figure, _repeat_figure, _domain_figure, _regression_figure, _curves_figure)
    with plt.rc_context(_RC):
        return [fig for make in makers if (fig := make(results)) is not None]
