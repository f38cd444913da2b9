"""A small synthetic run directory for the report tests: corpus, tokens, scores of two models, features,
and results files written by hand following the results contract (with plain pandas means)."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from lossgap.rundir import RunDir

BASELINE, CANDIDATE = "base-short", "cand-full"
DOCS = [
    ("b1", "books", "The cat (a big one) sat. The cat (a big one) sat again.\nThe end."),
    ("b2", "books", "Alice wrote <script>alert(1)</script> and </div> & then left."),
    ("p1", "python", "def f(x):\n    return (x + 1)\n\ndef g(y):\n\treturn (y + 1)\n"),
    # tokenized on whitespace only, so that whole tags are single tokens
    ("h1", "html", '<p>Hi</p> <script>alert(1)</script> <img/src=""/onerror=alert(2)> </div>'),
]
_TOKEN_RE = re.compile(r" ?\w+| ?[^\w\s]|\n|[ \t]+")
_COARSE_RE = re.compile(r"\s+|\S+")
LossModel = Callable[[int, str, int, "int | None"], tuple[float, float]]
_PENN = {"NOUN": "NN", "DET": "DT", "CCONJ": "CC", "ADV": "RB", "NUM": "CD", "PUNCT": "."}
_FUNCTION = {"the": "DET", "a": "DET", "and": "CCONJ", "then": "ADV", "one": "NUM", "again": "ADV"}


def tokenize(text: str, domain: str = "") -> list[tuple[str, int, int]]:
    """Word-ish pieces with a leading space, like a BPE tokenizer; covers every character of `text`."""
    pattern = _COARSE_RE if domain == "html" else _TOKEN_RE
    pieces = [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]
    assert "".join(p for p, _, _ in pieces) == text
    return pieces


def repeats(ids: list[int]) -> list[tuple[int, int | None]]:
    """Brute force (repeat_len, repeat_dist) of each position: the longest n-gram ending here seen before."""
    out = []
    for i in range(len(ids)):
        best, dist = 0, None
        for k in range(1, i + 1):
            gram = ids[i - k + 1 : i + 1]
            ends = [j for j in range(k - 1, i) if ids[j - k + 1 : j + 1] == gram]
            if not ends:
                break
            best, dist = k, i - max(ends)
        out.append((best, dist))
    return out


def fixture_losses(pos: int, side: str, repeat_len: int, repeat_dist: int | None) -> tuple[float, float]:
    """(baseline, candidate) loss of a token: the candidate is better on closing brackets and repeats."""
    gap = 0.8 if side == "close" else -0.5 if side == "open" else 0.15 * min(repeat_len, 4) - 0.05 * (pos % 3)
    loss_baseline = 3.0 + 0.25 * (pos % 4)
    return loss_baseline, loss_baseline - gap


def token_rows(docs: list[tuple[str, str, str]] = DOCS, losses: LossModel = fixture_losses) -> pd.DataFrame:
    """One row per token (BOS at pos 0) with its features and both models' losses."""
    vocab: dict[str, int] = {}
    rows = []
    for doc_id, domain, text in docs:
        pieces = tokenize(text, domain)
        ids = [vocab.setdefault(p, len(vocab) + 1) for p, _, _ in pieces]
        rows.append(dict(doc_id=doc_id, pos=0, token_id=0, char_start=-1, char_end=-1, domain=domain, token_text=""))
        for pos, ((piece, start, end), (rlen, rdist)) in enumerate(zip(pieces, repeats(ids)), start=1):
            word = piece.strip()
            side = "open" if word == "(" else "close" if word == ")" else "none"
            if domain in ("python", "html"):
                upos, cls, code = None, "other", "Punctuation" if word in "():+" else "Name"
            elif not word:
                upos, cls, code = None, "other", None
            elif word.isalpha():
                upos = _FUNCTION.get(word.lower(), "NOUN")
                cls, code = ("function" if upos in ("DET", "CCONJ") else "content"), None
            else:
                upos, cls, code = "PUNCT", "other", None
            loss_b, loss_c = losses(pos, side, rlen, rdist)
            rows.append(dict(
                doc_id=doc_id, pos=pos, token_id=ids[pos - 1], char_start=start, char_end=end, domain=domain,
                token_text=piece, upos=upos, tag=None if upos is None else _PENN[upos], word_class=cls,
                word_piece="single", bracket_kind="round" if side != "none" else None, bracket_side=side,
                repeat_len=rlen, repeat_dist=rdist, code_class=code, loss_baseline=loss_b,
                loss_candidate=loss_c))
    frame = pd.DataFrame(rows)
    counts = Counter(frame["token_id"])
    frame["log_freq"] = [math.log10(counts[t]) for t in frame["token_id"]]
    return frame


def _interval(gaps: pd.Series) -> tuple[float, float, float]:
    """Mean and a normal-approximation 95% interval (the real `compare` bootstraps documents)."""
    mean = float(gaps.mean())
    half = 1.96 * float(gaps.std(ddof=1)) / math.sqrt(len(gaps)) if len(gaps) > 1 else 0.2
    return mean, mean - half, mean + half


def _headline(label: str, part: pd.DataFrame) -> dict:
    gap, low, high = _interval(part["gap"])
    return dict(label=label, mean_gap=gap, ci_low=low, ci_high=high, n_tokens=len(part))


def _category_rows(scored: pd.DataFrame, feature: str, columns: list[str]) -> list[dict]:
    if scored.empty:
        return []
    key = scored[columns].astype(str).agg("|".join, axis=1)
    out = []
    for value, part in scored.groupby(key):
        gap, low, high = _interval(part["gap"])
        out.append(dict(feature=feature, value=value, n_tokens=len(part), n_docs=part["doc_id"].nunique(),
                        mean_loss_baseline=part["loss_baseline"].mean(), mean_loss_candidate=part["loss_candidate"].mean(),
                        mean_gap=gap, ci_low=low, ci_high=high, macro_mean_gap=gap))
    return out


def _repeat_curve(scored: pd.DataFrame) -> list[dict]:
    rows = []
    repeated = scored[scored["repeat_len"] >= 1]
    lengths = repeated["repeat_len"].astype(int).clip(upper=33)
    for k, part in repeated.groupby(lengths):
        gap, low, high = _interval(part["gap"])
        rows.append(dict(kind="repeat_len", bin="33+" if k == 33 else str(k), bin_order=int(k), n_tokens=len(part),
                         n_docs=part["doc_id"].nunique(), mean_gap=gap, ci_low=low, ci_high=high))
    edges = [(1, 15), (16, 63), (64, 255), (256, 1023)]
    for order, (low_edge, high_edge) in enumerate(edges):
        part = repeated[(repeated["repeat_dist"] >= low_edge) & (repeated["repeat_dist"] <= high_edge)]
        if len(part):
            gap, low, high = _interval(part["gap"])
            rows.append(dict(kind="repeat_dist", bin=f"{low_edge}-{high_edge}", bin_order=order, n_tokens=len(part),
                             n_docs=part["doc_id"].nunique(), mean_gap=gap, ci_low=low, ci_high=high))
    return rows


def _regression(scored: pd.DataFrame) -> list[dict]:
    """Ordinary least squares of the gap on a few indicators, with classical standard errors."""
    terms = {
        "Intercept": np.ones(len(scored)),
        "bracket_side[T.close]": (scored["bracket_side"] == "close").to_numpy(float),
        "bracket_side[T.open]": (scored["bracket_side"] == "open").to_numpy(float),
        "repeated": (scored["repeat_len"] >= 1).to_numpy(float),
        "word_class[T.function]": (scored["word_class"] == "function").to_numpy(float),
        "log_freq": scored["log_freq"].to_numpy(float),
    }
    x = np.column_stack(list(terms.values()))
    y = scored["gap"].to_numpy(float)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    sigma2 = float(resid @ resid) / max(1, len(y) - x.shape[1])
    se = np.sqrt(np.clip(np.diag(sigma2 * np.linalg.pinv(x.T @ x)), 0, None))
    return [dict(term=t, coef=c, se=e, ci_low=c - 1.96 * e, ci_high=c + 1.96 * e, p=0.05)
            for t, c, e in zip(terms, coef, se)]


def write_results(run: RunDir, frame: pd.DataFrame, *, curves: bool, segments: list[dict] | None = None) -> None:
    scored = frame[frame["pos"] >= 1].copy()
    scored["gap"] = scored["loss_baseline"] - scored["loss_candidate"]
    results = run.results_dir
    results.mkdir(parents=True, exist_ok=True)
    mean_gap = float(scored["gap"].mean())
    summary = dict(baseline=BASELINE, candidate=CANDIDATE, n_tokens=len(scored), n_docs=scored["doc_id"].nunique(),
                   mean_loss_baseline=float(scored["loss_baseline"].mean()),
                   mean_loss_candidate=float(scored["loss_candidate"].mean()), mean_gap=mean_gap,
                   ci_low=mean_gap - 0.1, ci_high=mean_gap + 0.1, macro_mean_gap=mean_gap,
                   missing=dict(baseline_only=0, candidate_only=0, no_features=0), bootstrap=1000, seed=0,
                   confidence=0.95,
                   headline=[_headline(label, scored[mask]) for label, mask in (
                       ("closing brackets", scored["bracket_side"] == "close"),
                       ("repeated n-grams (repeat_len ≥ 2)", scored["repeat_len"] >= 2))])
    (results / "summary.json").write_text(json.dumps(summary))
    cats = []
    for feature, cols in (("upos", ["upos"]), ("word_class", ["word_class"]), ("domain", ["domain"]),
                          ("domain+bracket_side", ["domain", "bracket_side"]),
                          ("bracket_kind+bracket_side", ["bracket_kind", "bracket_side"])):
        cats += _category_rows(scored.dropna(subset=cols), feature, cols)
    pd.DataFrame(cats).to_csv(results / "categories.csv", index=False)
    pd.DataFrame(_regression(scored)).to_csv(results / "regression.csv", index=False)
    (results / "regression_formula.txt").write_text(
        "gap ~ C(bracket_side) + repeated + C(word_class) + log_freq\n")
    pd.DataFrame(_repeat_curve(scored)).to_csv(results / "repeat_curve.csv", index=False)
    if curves:
        pd.DataFrame([dict(series=s, step=step, name=f"{s}@step{step}", mask=m, n_tokens=100,
                           mean_loss=4.0 - off - 0.0001 * step, ci_low=3.9 - off - 0.0001 * step,
                           ci_high=4.1 - off - 0.0001 * step)
                      for s, off in (("transformer", 0.0), ("hybrid", 0.2)) for m in ("all", "closing brackets")
                      for step in (1000, 2000, 4000)]).to_csv(results / "curves.csv", index=False)
    ranked = scored.sort_values(["gap", "doc_id", "pos"], ascending=[False, True, True])
    tops = []
    for direction, part in (("candidate_wins", ranked.head(5)), ("candidate_loses", ranked.iloc[::-1].head(5))):
        for rank, r in enumerate(part.itertuples(index=False), start=1):
            tops.append(dict(direction=direction, rank=rank, doc_id=r.doc_id, pos=r.pos, domain=r.domain,
                             token_text=r.token_text, loss_baseline=r.loss_baseline,
                             loss_candidate=r.loss_candidate, gap=r.gap))
    pd.DataFrame(tops).to_csv(results / "top_tokens.csv", index=False)
    if segments is None:
        segments = _fixture_segments(scored) if set(scored["doc_id"]) == {d for d, _, _ in DOCS} else _segments(scored)
    pd.DataFrame(segments).to_csv(results / "top_segments.csv", index=False)
    docs = scored.groupby(["doc_id", "domain"])["gap"].agg(["mean", "sum", "size"]).reset_index()
    rows = []
    for direction, asc in (("candidate_wins", False), ("candidate_loses", True)):
        for rank, r in enumerate(docs.sort_values("sum", ascending=asc).itertuples(index=False), start=1):
            rows.append(dict(direction=direction, rank=rank, doc_id=r.doc_id, domain=r.domain, n_tokens=r.size,
                             mean_gap=r.mean, sum_gap=r.sum))
    pd.DataFrame(rows).to_csv(results / "top_documents.csv", index=False)


def _segments(scored: pd.DataFrame, width: int = 8, top: int = 5) -> list[dict]:
    """Every run of `width` tokens ranked by its summed gap, best and worst `top`, not overlapping in a doc."""
    runs = []
    for doc_id, part in scored.groupby("doc_id"):
        part = part.sort_values("pos")
        sums = part["gap"].rolling(width).sum().to_numpy()
        for end in range(width - 1, len(part)):
            runs.append((float(sums[end]), doc_id, part.iloc[end - width + 1 : end + 1]))
    out = []
    for direction, sign in (("candidate_wins", -1), ("candidate_loses", 1)):
        taken: list[tuple[str, int, int]] = []
        for total, doc_id, seg in sorted(runs, key=lambda r: sign * r[0]):
            start, end = int(seg["pos"].iloc[0]), int(seg["pos"].iloc[-1]) + 1
            if any(d == doc_id and start < e and s < end for d, s, e in taken):
                continue
            taken.append((doc_id, start, end))
            out.append(dict(direction=direction, rank=len(taken), doc_id=doc_id, pos_start=start, pos_end=end,
                            n_tokens=width, mean_gap=total / width, sum_gap=total,
                            text="".join(seg["token_text"])))
            if len(taken) == top:
                break
    return out


def _fixture_segments(scored: pd.DataFrame) -> list[dict]:
    b2 = scored[scored["doc_id"] == "b2"]
    text_b2 = DOCS[1][2]
    seg = b2[(b2.pos >= 3) & (b2.pos < 14)]  # " <script>alert(1)</script>"
    return [dict(direction="candidate_loses", rank=1, doc_id="b2", pos_start=3, pos_end=14, n_tokens=len(seg),
                     mean_gap=float(seg["gap"].mean()), sum_gap=float(seg["gap"].sum()),
                     text=text_b2[int(seg.char_start.iloc[0]) : int(seg.char_end.iloc[-1])]),
                dict(direction="candidate_wins", rank=1, doc_id="p1", pos_start=10, pos_end=14, n_tokens=4,
                     mean_gap=0.5, sum_gap=2.0, text="return (x + 1)")]


def make_run(path: Path, *, curves: bool = True, docs: list[tuple[str, str, str]] = DOCS,
             losses: LossModel = fixture_losses, segments: list[dict] | None = None) -> tuple[RunDir, pd.DataFrame]:
    """Write the synthetic run to `path`; return it with the token table it was made from."""
    run = RunDir(path)
    frame = token_rows(docs, losses)
    run.write_corpus(pa.table({"doc_id": [d for d, _, _ in docs], "domain": [m for _, m, _ in docs],
                               "text": [t for _, _, t in docs], "source": ["synthetic"] * len(docs)}))
    run.write_tokens(pa.Table.from_pandas(frame[["doc_id", "pos", "token_id", "char_start", "char_end"]],
                                          preserve_index=False))
    scored = frame[frame["pos"] >= 1]
    for name, col in ((BASELINE, "loss_baseline"), (CANDIDATE, "loss_candidate")):
        run.write_scores(name, pa.Table.from_pandas(
            scored[["doc_id", "pos", col]].rename(columns={col: "loss"}), preserve_index=False))
    feats = frame.drop(columns=["token_id", "char_start", "char_end", "loss_baseline", "loss_candidate"])
    feats["repeat_dist"] = feats["repeat_dist"].astype("Int32")
    feats["repeat_len"] = feats["repeat_len"].fillna(0).astype("int32")
    run.write_features(pa.Table.from_pandas(feats, preserve_index=False))

    def record(manifest: dict) -> None:
        manifest["models"] = {
            BASELINE: dict(model="HuggingFaceTB/SmolLM2-135M", revision=None, dtype="float32",
                           context=dict(max_length=64, stride=32), n_tokens=len(scored),
                           mean_loss=float(scored["loss_baseline"].mean())),
            CANDIDATE: dict(model="HuggingFaceTB/SmolLM2-135M", revision="main", dtype="bfloat16",
                            context=dict(max_length=8192, stride=4096), n_tokens=len(scored),
                            mean_loss=float(scored["loss_candidate"].mean())),
        }
        manifest["corpus"] = dict(fingerprint="abc", source="synthetic.jsonl", n_docs=len(docs), skipped={"empty": 1})
        manifest["tokenizer"] = dict(fingerprint="def", prefix_token_id=0, policy="bos")

    run.update_manifest(record)
    write_results(run, frame, curves=curves, segments=segments)
    return run, frame


__all__ = ["BASELINE", "CANDIDATE", "DOCS", "make_run", "repeats", "token_rows", "tokenize"]
