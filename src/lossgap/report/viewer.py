"""The token viewer's data: which documents to show, and their tokens' text, losses and features.

Reads a bounded window of the run's tokens, both scorings, features and corpus with DuckDB (only the chosen
documents and positions), and serialises it as JSON that is safe inside <script>. The viewer's filters are
the mask presets (one definition of "repeated" everywhere: repeat_len >= 2) and the categorical features.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from lossgap.errors import RunDirError
from lossgap.report.config import ReportConfig
from lossgap.report.load import Results
from lossgap.rundir import FEATURE_COLUMNS_ALL, PRESETS, REPEAT_LEN_BINS, RunDir, repeat_len_bin_sql

__all__ = [
    "CATEGORICAL_FEATURES",
    "ViewerData",
    "ViewerDoc",
    "choose_documents",
    "color_scale",
    "load_viewer",
    "script_json",
    "split_text",
]

log = logging.getLogger(__name__)

# Feature columns the viewer can filter on, in the order its menu lists them (after the mask presets).
CATEGORICAL_FEATURES = (
    "bracket_side",
    "bracket_kind",
    "repeat_len_bin",
    "word_class",
    "upos",
    "tag",
    "word_piece",
    "code_class",
    "domain_type",
)
_NUMERIC_FEATURES = ("repeat_len", "repeat_dist", "log_freq")
TOP_SHOWN = 5  # top predictions a token's tooltip lists per model
_MASKS = tuple(m for m in PRESETS if m != "all")


@dataclass(frozen=True)
class ViewerDoc:
    """One document's window [pos_start, pos_end) as the viewer draws it; `pre[i]` is the text before token i."""

    doc_id: str
    domain: str
    n_positions: int  # tokens in the whole document, BOS included
    pos_start: int
    pos_end: int
    pos: list[int]
    pre: list[str]
    text: list[str]
    loss_baseline: list[float | None]
    loss_candidate: list[float | None]
    categorical: dict[str, list[int]] = field(default_factory=dict)  # codes into ViewerData.vocab[feature]; -1 = null
    numeric: dict[str, list[float | None]] = field(default_factory=dict)
    masks: dict[str, list[int]] = field(default_factory=dict)  # preset mask -> 1 where the token is in it
    # in a unit run: model -> for each unit, where that model's own tokens start within pre[i] + text[i]
    # (offsets in characters, i.e. code points)
    boundaries: dict[str, list[list[int]]] = field(default_factory=dict)
    # what scoring recorded beyond the loss, per role ("b", "c"): entropy (nats), rank of the true token, and the
    # top predictions as [[text, log-probability], …] (at most TOP_SHOWN)
    entropy: dict[str, list[float | None]] = field(default_factory=dict)
    rank: dict[str, list[int | None]] = field(default_factory=dict)
    top: dict[str, list[list[list[object]]]] = field(default_factory=dict)


@dataclass(frozen=True)
class ViewerData:
    baseline: str
    candidate: str
    scale: float  # |gap| in nats that gets the full colour; the scale is symmetric about zero
    vocab: dict[str, list[str]]
    docs: list[ViewerDoc]

    def anchor(self, doc_id: str, pos: int) -> int | None:
        """Index of the viewer document that shows (doc_id, pos), or None when it is not shown."""
        for i, doc in enumerate(self.docs):
            if doc.doc_id == doc_id and doc.pos_start <= pos < doc.pos_end:
                return i
        return None

    def doc_index(self, doc_id: str) -> int | None:
        return next((i for i, doc in enumerate(self.docs) if doc.doc_id == doc_id), None)


def _ranked_places(results: Results, top_rows: int) -> list[tuple[str, int | None]]:
    """(doc_id, focus pos) of the rows the report's tables show, rank by rank across the three tables:
    rank 1 of segments (wins, loses), of tokens, of documents, then rank 2, and so on."""
    rows: list[tuple[int, int, int, str, int | None]] = []
    for order, (frame, pos_column) in enumerate(
        ((results.top_segments, "pos_start"), (results.top_tokens, "pos"), (results.top_documents, None))
    ):
        if frame is None:
            continue
        for r in frame[frame["rank"] <= top_rows].itertuples(index=False):
            pos = None if pos_column is None else int(getattr(r, pos_column))
            rows.append((int(r.rank), order, 0 if r.direction == "candidate_wins" else 1, str(r.doc_id), pos))
    if results.slice_examples is not None:  # a slice search: each slice's example tokens, slice by slice
        for r in results.slice_examples[results.slice_examples["rank"] <= top_rows].itertuples(index=False):
            rows.append((int(r.rank), 3, int(r.example), str(r.doc_id), int(r.pos)))
    return [(doc_id, pos) for *_, doc_id, pos in sorted(rows, key=lambda row: row[:3])]


def choose_documents(
    results: Results, config: ReportConfig, corpus_ids: list[str], known: set[str] | None = None
) -> list[tuple[str, int | None]]:
    """Documents for the viewer with the position to centre on: the user's, then those the tables' rows name.

    Falls back to `corpus_ids` when no top tables exist. Only documents in `known` (when given) count; at most
    `viewer_docs`.
    """
    picks: list[tuple[str, int | None]] = [(d, None) for d in config.extra_docs]
    picks += _ranked_places(results, config.top_rows)
    if not picks:
        picks = [(d, None) for d in corpus_ids]
    chosen: dict[str, int | None] = {}
    for doc_id, pos in picks:
        if doc_id not in chosen and len(chosen) < config.viewer_docs and (known is None or doc_id in known):
            chosen[doc_id] = pos
    return list(chosen.items())


def _named_documents(results: Results, config: ReportConfig) -> list[str]:
    """Every doc_id the user or the shown table rows name (at most 6 × top_rows, plus the user's)."""
    return list(dict.fromkeys([*config.extra_docs, *(d for d, _ in _ranked_places(results, config.top_rows))]))


def _window(n_positions: int, focus: int | None, width: int) -> tuple[int, int]:
    """[start, end) of at most `width` scored positions (pos >= 1), a third of them before `focus`."""
    if n_positions - 1 <= width:
        return 1, n_positions
    start = 1 if focus is None else max(1, focus - width // 3)
    start = min(start, n_positions - width)
    return start, start + width


def split_text(
    text: str, char_start: list[int], char_end: list[int], *, from_start: bool
) -> tuple[list[str], list[str]]:
    """Each token's own text and the uncovered text before it, so that pre+text concatenated is the window.

    Tokens whose span overlaps an earlier token's (byte pieces of one character) get the characters not yet
    shown, possibly none; special tokens (offset -1) get empty text.
    """
    shown = 0 if from_start else next((s for s in char_start if s >= 0), 0)
    pre: list[str] = []
    own: list[str] = []
    for start, end in zip(char_start, char_end, strict=True):
        if start < 0 or end < 0:
            pre.append("")
            own.append("")
            continue
        pre.append(text[shown:start] if start > shown else "")
        own.append(text[max(start, shown) : end] if end > shown else "")
        shown = max(shown, end)
    return pre, own


def color_scale(gaps: np.ndarray) -> float:
    """The 95th percentile of |gap|, rounded up to 1, 2 or 5 × 10^k nats (1.0 when there are no gaps)."""
    gaps = np.abs(gaps[np.isfinite(gaps)])
    if gaps.size == 0 or float(np.quantile(gaps, 0.95)) <= 0:
        return 1.0
    q = float(np.quantile(gaps, 0.95))
    exponent = math.floor(math.log10(q))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * 10**exponent >= q * (1 - 1e-12):
            return round(step * 10**exponent, 10)
    raise AssertionError("unreachable: 10 × 10^floor(log10 q) >= q")


def _query_tokens(
    con: duckdb.DuckDBPyConnection, run: RunDir, windows: pd.DataFrame, baseline: str, candidate: str
) -> pd.DataFrame:
    """Tokens, both losses, the features and the preset masks of the positions inside `windows`: the run's token
    query restricted to the windows' documents while each table streams past (a join straight onto the run's
    features built a hash table of every token: 14 GiB at 100M tokens)."""
    try:
        con.register("windows", windows)
        roles = {f"loss_{role}": name for role, name in (("baseline", baseline), ("candidate", candidate))}
        stats: dict[str, tuple[str, str]] = {}
        for key, name in (("b", baseline), ("c", candidate)):
            have = run.score_columns(name) if run.has_scores(name) else ()
            stats |= {f"{column}_{key}": (name, column) for column in ("entropy", "rank", "topk_ids", "topk_logprobs")
                      if column in have}  # fmt: skip
        present = set(run.columns("features")) if run.has("features") else set()
        carried = [c for c in (*CATEGORICAL_FEATURES, *_NUMERIC_FEATURES) if c in present and c != "repeat_len_bin"]
        run.token_view(con, "vt", tokens=("char_start", "char_end"),
                       scores={**{c: n for c, n in roles.items() if run.has_scores(n)}, **stats},
                       features=FEATURE_COLUMNS_ALL if present else (), docs="SELECT doc_id FROM windows")  # fmt: skip
        selects = ["t.doc_id", "t.pos", "t.char_start", "t.char_end"]
        selects += [f"t.{c}" if run.has_scores(n) else f"NULL::FLOAT AS {c}" for c, n in roles.items()]
        selects += [f"t.{c}" for c in stats]
        if present:  # the masks' conditions read any feature column
            selects += [f't."{c}"' for c in carried]
            if "repeat_len" in present:
                selects.append(f"{repeat_len_bin_sql('t.repeat_len')} AS repeat_len_bin")
            selects += [f"CASE WHEN NOT t.has_features THEN NULL ELSE coalesce(CAST(({PRESETS[m]}) AS BOOLEAN), false) "
                        f'END AS "mask:{m}"' for m in _MASKS]  # fmt: skip
        query = f"""
            SELECT {", ".join(selects)}
            FROM windows w JOIN vt t ON t.doc_id = w.doc_id AND t.pos >= w.pos_start AND t.pos < w.pos_end
            ORDER BY t.doc_id, t.pos
        """
        return con.execute(query).df()
    except duckdb.Error as exc:
        raise RunDirError(f"{run.path}: cannot read the viewer's tokens ({exc})") from exc


def _id_texts(con: duckdb.DuckDBPyConnection, run: RunDir, ids: set[int]) -> dict[int, str]:
    """The text of each token id, cut from one place where it occurs in the run's corpus (the run's own tokens: no
    tokenizer needed); ids that never occur are left out (the tooltip shows them as #ID)."""
    if not ids:
        return {}
    con.register("wanted_ids", pd.DataFrame({"token_id": sorted(ids)}))
    rows = _sql_list(con, """
        WITH one AS (SELECT token_id, arg_min(doc_id, doc_id) AS doc_id, arg_min(char_start, doc_id) AS char_start,
                            arg_min(char_end, doc_id) AS char_end
                     FROM tokens WHERE token_id IN (SELECT token_id FROM wanted_ids) AND char_start >= 0
                     GROUP BY token_id)
        SELECT o.token_id, substring(c.text, o.char_start + 1, o.char_end - o.char_start)
        FROM one o JOIN corpus c USING (doc_id)""", [])  # fmt: skip
    con.unregister("wanted_ids")
    return {int(i): str(t) for i, t in rows}


def _sql_list(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> list[tuple]:
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        raise RunDirError(f"cannot read the viewer's documents ({exc})") from exc


def _none_if_nan(values: pd.Series, digits: int) -> list[float | None]:
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), digits)
        for v in values.tolist()
    ]


def _documents(
    con: duckdb.DuckDBPyConnection, run: RunDir, results: Results, config: ReportConfig
) -> tuple[list[tuple[str, int | None]], dict[str, str], dict[str, int]]:
    """The chosen (doc_id, focus) pairs, their domains and their token counts (BOS included)."""
    run.view(con, "corpus", "corpus")
    run.view(con, "tokens", "tokens")
    named = _named_documents(results, config)
    if not named:
        named = [
            r[0] for r in _sql_list(con, "SELECT doc_id FROM corpus ORDER BY doc_id LIMIT ?", [config.viewer_docs])
        ]
    domains = dict(_sql_list(con, "SELECT doc_id, domain FROM corpus WHERE list_contains(?, doc_id)", [named]))
    sizes = dict(
        _sql_list(
            con, "SELECT doc_id, max(pos) + 1 FROM tokens WHERE list_contains(?, doc_id) GROUP BY doc_id", [named]
        )
    )
    for doc_id in config.extra_docs:
        if doc_id not in domains or doc_id not in sizes:
            log.warning("viewer: document %r is not in the corpus or has no tokens; left out", doc_id)
    known = {d for d in domains if d in sizes}
    picks = choose_documents(results, config, named, known)
    return picks, {d: str(domains[d]) for d, _ in picks}, {d: int(sizes[d]) for d, _ in picks}


def _texts(con: duckdb.DuckDBPyConnection, run: RunDir, spans: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """For each (doc_id, char_from, char_to): (char_from, that slice of the document's text), cut by DuckDB."""
    con.register("spans", spans)
    rows = _sql_list(
        con,
        """
        SELECT c.doc_id, s.char_from, substring(c.text, s.char_from + 1, s.char_to - s.char_from)
        FROM corpus c JOIN spans s ON c.doc_id = s.doc_id
    """,
        [],
    )
    return {doc_id: (int(first), text) for doc_id, first, text in rows}


def load_viewer(run: RunDir, results: Results, config: ReportConfig) -> ViewerData | None:
    """The viewer's documents and tokens, or None when the run has no corpus or tokens to show."""
    if results.pair is None or config.viewer_docs == 0 or not run.has("corpus") or not run.has("tokens"):
        return None  # a result of curves has no pair of models to show
    baseline, candidate = results.pair
    con = duckdb.connect()
    try:
        picks, domains, sizes = _documents(con, run, results, config)
        if not picks:
            return None
        bounds = {d: _window(sizes[d], p, config.viewer_tokens) for d, p in picks}
        windows = pd.DataFrame(
            {
                "doc_id": list(bounds),
                "pos_start": [b[0] for b in bounds.values()],
                "pos_end": [b[1] for b in bounds.values()],
            }
        )
        rows = _query_tokens(con, run, windows, baseline, candidate)
        spans = (
            rows[rows["char_start"] >= 0]
            .groupby("doc_id")
            .agg(char_from=("char_start", "min"), char_to=("char_end", "max"))
            .reset_index()
        )
        spans["char_from"] = [
            0 if bounds[d][0] <= 1 else int(c) for d, c in zip(spans["doc_id"], spans["char_from"], strict=True)
        ]
        texts = _texts(con, run, spans)
        wanted = {int(i) for c in ("topk_ids_b", "topk_ids_c") if c in rows for ids in rows[c].dropna()
                  for i in list(ids)[:TOP_SHOWN]}  # fmt: skip
        id_texts = _id_texts(con, run, wanted)
    finally:
        con.close()
    # no empty values in the filter menu: null and "" (spaCy's empty tag) are no category
    vocab = {c: sorted(v for v in rows[c].dropna().astype(str).unique().tolist() if v.strip()) for c in CATEGORICAL_FEATURES
             if c in rows}  # fmt: skip
    if "repeat_len_bin" in vocab:
        present = set(vocab["repeat_len_bin"])
        vocab["repeat_len_bin"] = [label for _, _, label in REPEAT_LEN_BINS if label in present]
    docs = [
        _viewer_doc(
            doc_id,
            domains[doc_id],
            sizes[doc_id],
            bounds[doc_id],
            rows[rows["doc_id"] == doc_id],
            texts.get(doc_id, (0, "")),
            vocab,
            id_texts,
        )
        for doc_id, _ in picks
    ]
    if run.manifest().unit is not None:
        starts = _model_token_starts(run, [baseline, candidate], [doc_id for doc_id, _ in picks])
        docs = [dataclasses.replace(d, boundaries={name: _unit_cuts(rows[rows["doc_id"] == d.doc_id], d, found.get(d.doc_id))
                                                   for name, found in starts.items()}) for d in docs]  # fmt: skip
    gaps = (rows["loss_baseline"] - rows["loss_candidate"]).to_numpy(dtype=float)
    return ViewerData(baseline=baseline, candidate=candidate, scale=color_scale(gaps), vocab=vocab, docs=docs)


def _model_token_starts(run: RunDir, names: list[str], doc_ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """In a unit run (units/UNIT/ of a run): where each model's own tokens start, as character offsets, in each
    of `doc_ids`; read from the parent run's tokens of the model's tokenizer."""
    parent = run.parent
    if parent is None:
        return {}
    models = run.manifest().models
    found: dict[str, dict[str, np.ndarray]] = {}
    for name in names:
        made = models[name].unit_scoring() if name in models else None
        key = "" if made is None else made.source.tokenizer
        if not parent.tokens_path(key).is_file():
            continue
        table = parent.read_tokens(key, ["doc_id", "char_start"], docs=doc_ids).to_pandas()
        table = table[table["char_start"] >= 0]
        found[name] = {d: np.sort(g["char_start"].to_numpy(np.int64)) for d, g in table.groupby("doc_id")}
    return found


def _unit_cuts(part: pd.DataFrame, doc: ViewerDoc, starts: np.ndarray | None) -> list[list[int]]:
    """For each unit drawn, the offsets within pre[i] + text[i] where a token of `starts` begins."""
    if starts is None:
        return [[] for _ in doc.pos]
    cuts = []
    for pre, end, own in zip(doc.pre, part["char_end"].tolist(), doc.text, strict=True):
        begin = end - len(own) - len(pre)
        inside = starts[(starts >= begin) & (starts < end)]
        cuts.append([int(c - begin) for c in inside])
    return cuts


def _viewer_doc(
    doc_id: str,
    domain: str,
    n_positions: int,
    bounds: tuple[int, int],
    part: pd.DataFrame,
    text: tuple[int, str],
    vocab: dict[str, list[str]],
    id_texts: dict[int, str],
) -> ViewerDoc:
    """One document's window: token texts from the slice `text` = (offset of its first character, slice); top
    predictions' texts from `id_texts`."""
    offset, piece = text
    starts = [s - offset if s >= 0 else s for s in part["char_start"].tolist()]
    ends = [e - offset if e >= 0 else e for e in part["char_end"].tolist()]
    pre, own = split_text(piece, starts, ends, from_start=bounds[0] <= 1)
    categorical = {}
    for c, values in vocab.items():
        index = {v: i for i, v in enumerate(values)}
        categorical[c] = [index.get(str(v), -1) if not pd.isna(v) else -1 for v in part[c].tolist()]
    masks = {m: [int(bool(v)) if not pd.isna(v) else 0 for v in part[f"mask:{m}"].tolist()] for m in _MASKS
             if f"mask:{m}" in part}  # fmt: skip
    return ViewerDoc(
        doc_id=doc_id,
        domain=domain,
        n_positions=n_positions,
        pos_start=bounds[0],
        pos_end=bounds[1],
        pos=[int(p) for p in part["pos"]],
        pre=pre,
        text=own,
        loss_baseline=_none_if_nan(part["loss_baseline"], 4),
        loss_candidate=_none_if_nan(part["loss_candidate"], 4),
        categorical=categorical,
        numeric={c: _none_if_nan(part[c].astype(float), 3) for c in _NUMERIC_FEATURES if c in part},
        masks=masks,
        entropy={k: _none_if_nan(part[f"entropy_{k}"].astype(float), 3) for k in "bc" if f"entropy_{k}" in part},
        rank={k: [None if pd.isna(r) else int(r) for r in part[f"rank_{k}"]] for k in "bc" if f"rank_{k}" in part},
        top={
            k: [
                _top_shown(ids, logp, id_texts)
                for ids, logp in zip(part[f"topk_ids_{k}"], part[f"topk_logprobs_{k}"], strict=True)
            ]
            for k in "bc"
            if f"topk_ids_{k}" in part
        },  # fmt: skip
    )


def _top_shown(ids: object, logp: object, id_texts: dict[int, str]) -> list[list[object]]:
    """A token's top predictions as [[text, log-probability], …]: at most TOP_SHOWN, an unknown id as #ID."""
    if ids is None or (isinstance(ids, float) and math.isnan(ids)):
        return []
    return [
        [id_texts.get(int(i), f"#{int(i)}"), round(float(lp), 3)]
        for i, lp in zip(list(ids)[:TOP_SHOWN], list(logp)[:TOP_SHOWN], strict=True)
    ]


def script_json(value: object) -> str:
    """JSON for a <script type="application/json"> block: <, >, & and line separators are \\u-escaped.

    No sequence in the output can close the script element or start a comment, whatever the document text.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text
