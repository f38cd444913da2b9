"""Render the report's HTML with jinja2 (autoescape on) from the loaded results, figures and viewer data.

The tables of top tokens, segments and documents are formatted here, each row linked to the viewer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import pandas as pd

from lossgap import __version__
from lossgap.report.figures import LOSES, WINS, SvgFigure, contrast_label
from lossgap.report.load import Results, RunOverview
from lossgap.report.viewer import ViewerData, script_json
from lossgap.rundir import PRESETS

__all__ = ["Row", "Table", "render_report", "top_tables", "visible_whitespace"]

_DIRECTIONS = (("candidate_wins", "wins"), ("candidate_loses", "loses"))


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    href: str | None  # "#doc-I-POS[-END]" when the viewer shows the place, else None


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    caption: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[Row, ...]


def visible_whitespace(text: str, limit: int = 0) -> str:
    """Text with newlines, tabs and spaces shown as ↵, → and ␣ (spaces only at the ends), cut to `limit`."""
    if limit and len(text) > limit:
        text = text[: limit - 1] + "…"
    stripped = text.strip(" ")
    lead, trail = len(text) - len(text.lstrip(" ")), len(text) - len(text.rstrip(" "))
    if not stripped:
        return "␣" * len(text)
    body = "␣" * lead + stripped + "␣" * trail
    return body.replace("\r", "␍").replace("\n", "↵").replace("\t", "→")


def _gap(x: float | None) -> str:
    """A signed gap with a typographic minus, e.g. +0.0123 or −0.4500."""
    return "—" if x is None or pd.isna(x) else f"{x:+.4f}".replace("-", "−")


def _sign_class(low: float | None, high: float | None) -> str:
    """CSS class of an estimate: `pos` when its interval lies above zero, `neg` below, else empty."""
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return ""
    return "pos" if low > 0 else "neg" if high < 0 else ""


def _loss(x: float | None) -> str:
    return "—" if x is None or pd.isna(x) else f"{x:.4f}"


def _anchor(viewer: ViewerData | None, doc_id: str, pos: int | None) -> int | None:
    """Index of the viewer document showing doc_id (at pos, if given), or None."""
    if viewer is None:
        return None
    return viewer.doc_index(doc_id) if pos is None else viewer.anchor(doc_id, pos)


def _token_row(r: Any, viewer: ViewerData | None) -> Row:
    i = _anchor(viewer, r.doc_id, int(r.pos))
    return Row(
        (
            str(int(r.rank)),
            visible_whitespace(r.token_text, 40),
            r.doc_id,
            str(int(r.pos)),
            r.domain,
            _loss(r.loss_baseline),
            _loss(r.loss_candidate),
            _gap(r.gap),
        ),
        None if i is None else f"#doc-{i}-{int(r.pos)}",
    )


def _segment_row(r: Any, viewer: ViewerData | None) -> Row:
    start, end = int(r.pos_start), int(r.pos_end)
    i = _anchor(viewer, r.doc_id, start)
    return Row(
        (
            str(int(r.rank)),
            visible_whitespace(r.text, 90),
            r.doc_id,
            f"{start}–{end}",
            f"{int(r.n_tokens):,}",
            _gap(r.mean_gap),
            _gap(r.sum_gap),
        ),
        None if i is None else f"#doc-{i}-{start}-{end}",
    )


def _document_row(r: Any, viewer: ViewerData | None) -> Row:
    i = _anchor(viewer, r.doc_id, None)
    return Row(
        (str(int(r.rank)), r.doc_id, r.domain, f"{int(r.n_tokens):,}", _gap(r.mean_gap), _gap(r.sum_gap)),
        None if i is None else f"#doc-{i}",
    )


def top_tables(results: Results, viewer: ViewerData | None, top: int) -> list[Table]:
    """The win/lose tables for every top_* file present, rows linked to the viewer where it shows them.

    Column 1 of each table (token, text or doc) carries the link.
    """
    s = results.summary
    if s is None:
        return []
    kinds: tuple[
        tuple[
            str, pd.DataFrame | None, Callable[[Any, ViewerData | None], Row], str, tuple[str, ...], tuple[bool, ...]
        ],
        ...,
    ] = (
        (
            "tokens",
            results.top_tokens,
            _token_row,
            "Single tokens ranked by their gap; losses in nats.",
            ("#", "token", "doc", "pos", "domain", f"loss {s.baseline}", f"loss {s.candidate}", "gap"),
            (True, False, False, True, False, True, True, True),
        ),
        (
            "segments",
            results.top_segments,
            _segment_row,
            "Contiguous runs of tokens ranked by their summed gap; positions are [start, end).",
            ("#", "text", "doc", "positions", "tokens", "mean gap", "sum gap"),
            (True, False, False, True, True, True, True),
        ),
        (
            "documents",
            results.top_documents,
            _document_row,
            "Whole documents ranked by their summed gap.",
            ("#", "doc", "domain", "tokens", "mean gap", "sum gap"),
            (True, False, False, True, True, True),
        ),
    )
    tables = []
    for kind, frame, make_row, caption, columns, numeric in kinds:
        if frame is None:
            continue
        for direction, verb in _DIRECTIONS:
            ranked = frame[frame["direction"] == direction].sort_values("rank").head(top)
            tables.append(
                Table(
                    f"{kind}-{verb}",
                    f"{kind.capitalize()} where {s.candidate} {verb} most",
                    caption,
                    columns,
                    numeric,
                    tuple(make_row(r, viewer) for r in ranked.itertuples(index=False)),
                )
            )
    if results.top_tokens is not None and (results.top_tokens["direction"] == "most_divergent").any():
        ranked = results.top_tokens[results.top_tokens["direction"] == "most_divergent"].sort_values("rank").head(top)
        tables.append(Table("tokens-divergent", "Tokens where the two models' predictions differ most",
                            "Single tokens ranked by the Jensen–Shannon divergence between the models' next-token "
                            "distributions (from their top-k tokens; nats, at most ln 2 = 0.693), whatever the true "
                            "token's loss.",
                            ("#", "token", "doc", "pos", "domain", f"loss {s.baseline}", f"loss {s.candidate}", "gap",
                             "divergence"), (True, False, False, True, False, True, True, True, True),
                            tuple(Row((*_token_row(r, viewer).cells, _loss(r.divergence)), _token_row(r, viewer).href)
                                  for r in ranked.itertuples(index=False))))  # fmt: skip
    return tables


@dataclass(frozen=True)
class SliceRow:
    """One slice of a search (`discover`) as the report's table shows it: held-out figures, its example tokens."""

    rank: int
    conditions: str
    n_tokens: int
    n_eff_docs: float
    mean_gap: tuple[float, float, float]  # estimate, ci_low, ci_high (held-out half)
    diff: tuple[float, float, float]  # slice − rest
    relative: tuple[float, float, float]  # mean gap relative to the baseline's loss on the slice
    share: tuple[float, float, float]  # share of the held-out half's total gap
    share_of_tokens: float
    p_holm: float
    search_t: float
    search_tokens: int
    examples: tuple[tuple[str, str | None], ...]  # (token text with its gap, link into the viewer)
    note: str


def slice_rows(results: Results, viewer: ViewerData | None) -> list[SliceRow]:
    """The selected slices of a search with their example tokens, linked to the viewer where it shows them."""
    if results.slices is None:
        return []
    examples = results.slice_examples if results.slice_examples is not None else pd.DataFrame(columns=["rank"])
    rows = []
    for r in results.slices.itertuples(index=False):
        shown = []
        for e in examples[examples["rank"] == r.rank].sort_values("example").itertuples(index=False):
            i = _anchor(viewer, e.doc_id, int(e.pos))
            shown.append((f"{visible_whitespace(e.token_text, 24)} ({_gap(e.gap)})",
                          None if i is None else f"#doc-{i}-{int(e.pos)}"))  # fmt: skip
        triple = lambda a, b, c, r=r: (getattr(r, a), getattr(r, b), getattr(r, c))  # noqa: E731
        rows.append(SliceRow(rank=int(r.rank), conditions=r.conditions,
                             n_tokens=0 if pd.isna(r.n_tokens) else int(r.n_tokens), n_eff_docs=r.n_eff_docs,
                             mean_gap=triple("mean_gap", "ci_low", "ci_high"),
                             diff=triple("diff", "diff_ci_low", "diff_ci_high"),
                             relative=triple("mean_rel_gap", "rel_ci_low", "rel_ci_high"),
                             share=triple("share_of_gap", "share_ci_low", "share_ci_high"),
                             share_of_tokens=r.share_of_tokens, p_holm=r.diff_p_holm, search_t=r.search_t,
                             search_tokens=int(r.search_n_tokens), examples=tuple(shown), note=r.note))  # fmt: skip
    return rows


@dataclass(frozen=True)
class ContrastRow:
    """One contrast as the report's table shows it: in words, raw and adjusted side by side."""

    label: str
    raw: tuple[float, float, float]  # estimate, ci_low, ci_high
    adjusted: tuple[float, float, float]
    relative: tuple[float, float, float]  # the raw contrast relative to the baseline's loss (a share, e.g. 0.05)
    p_adjusted: float  # Holm, of the adjusted contrast within its family
    q: float  # Benjamini–Hochberg over every p-value of the comparison, of the adjusted contrast
    p_primary: float  # Holm over the declared primary contrasts (NaN where not declared)
    n_tokens: int
    n_eff_docs: float
    note: str


def contrast_rows(
    results: Results, families: tuple[str, ...] = ("word_class", "existential_there", "brackets", "repetition")
) -> list[ContrastRow]:
    """The study's contrasts (and any --by grouping's) for the report's table."""
    frame = results.contrasts
    if frame is None or frame.empty:
        return []
    keep = frame["family"].isin(families) | frame["family"].str.startswith("by ")
    nats, relative = frame["scale"] == "nats", frame["scale"] == "relative"
    raw = frame[keep & nats & (frame["method"] == "raw")].reset_index(drop=True)
    adjusted = frame[keep & nats & (frame["method"] == "adjusted")].reset_index(drop=True)
    raw_relative = frame[keep & relative & (frame["method"] == "raw")].reset_index(drop=True)
    rows = []
    for r, a, v in zip(raw.itertuples(index=False), adjusted.itertuples(index=False),
                       raw_relative.itertuples(index=False), strict=True):  # fmt: skip
        rows.append(ContrastRow(label=contrast_label(r), raw=(r.estimate, r.ci_low, r.ci_high),
                                relative=(v.estimate, v.ci_low, v.ci_high),
                                adjusted=(a.estimate, a.ci_low, a.ci_high), p_adjusted=a.p_adjusted, q=a.q,
                                p_primary=a.p_primary,
                                n_tokens=int(r.n_tokens), n_eff_docs=float(r.n_eff_docs), note=r.note))  # fmt: skip
    return rows


def _viewer_payload(viewer: ViewerData) -> dict[str, object]:
    names = list(dict.fromkeys(m for d in viewer.docs for m in d.masks))
    return {
        "baseline": viewer.baseline,
        "candidate": viewer.candidate,
        "scale": viewer.scale,
        "vocab": viewer.vocab,
        "masks": [{"name": m, "condition": PRESETS[m]} for m in names],
        "docs": [
            {
                "doc_id": d.doc_id,
                "domain": d.domain,
                "n_positions": d.n_positions,
                "pos_start": d.pos_start,
                "pos_end": d.pos_end,
                "pos": d.pos,
                "pre": d.pre,
                "text": d.text,
                "lb": d.loss_baseline,
                "lc": d.loss_candidate,
                "cat": d.categorical,
                "num": d.numeric,
                "masks": d.masks,
                "cuts": d.boundaries,
                "ent": d.entropy,
                "rank": d.rank,
                "top": d.top,
            }
            for d in viewer.docs
        ],
    }


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lossgap.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["gap"] = _gap
    env.filters["loss"] = _loss
    env.globals["sign_class"] = _sign_class
    env.filters["count"] = lambda x: "—" if x is None or pd.isna(x) else f"{int(x):,}"
    env.filters["p"] = lambda x: "—" if x is None or pd.isna(x) else ("< 0.001" if x < 0.001 else f"{x:.3f}")
    env.filters["eff"] = lambda x: "—" if x is None or pd.isna(x) else f"{x:,.1f}"
    return env


def render_report(
    *,
    title: str,
    run_label: str,
    results: Results,
    overview: RunOverview,
    figures: list[SvgFigure],
    viewer: ViewerData | None,
    top: int,
    omitted: list[str],
    notes: tuple[str, ...] = (),
    pages: Sequence[tuple[str, str, bool]] = (),
) -> str:
    """One complete page; every value passes through autoescape except the figures' SVG and the viewer's JSON,
    which `script_json` has made safe for a script element. `pages`: (file, label, is this page) of every page of
    the report, for its navigation (shown when there are several)."""
    template = _environment().get_template("index.html.j2")
    return template.render(
        title=title,
        run_label=run_label,
        version=__version__,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        s=results.summary,
        label=results.record.label,
        pages=list(pages),
        overview=overview,
        figures=figures,
        tables=top_tables(results, viewer, top),
        slices=slice_rows(results, viewer),
        search=results.discover,
        contrasts=contrast_rows(results),
        primary=results.contrasts is not None and bool(results.contrasts["p_primary"].notna().any()),
        regression=results.regression,
        viewer=viewer,
        viewer_json=None if viewer is None else script_json(_viewer_payload(viewer)),
        omitted=omitted,
        caveats=(
            *notes,
            *(() if results.summary is None else results.summary.notes),
            *(() if results.discover is None else results.discover.notes),
        ),
        wins_color=WINS,
        loses_color=LOSES,
    )
