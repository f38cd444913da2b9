"""A small synthetic run directory for the report tests: corpus, tokens, scores of two models and of two
checkpoint series, features written by hand; results made by the real `compare` and `curves`."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lossgap.analysis import CompareConfig, CurvesConfig, Series, run_compare, run_curves
from lossgap.rundir import FEATURES_SCHEMA, CorpusRecord, ModelContext, ModelRecord, RunDir, TokenizerRecord
from lossgap.rundir.results import RESULTS, table_to_csv

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
        domain_type = "prose" if domain == "books" else "markup" if domain == "html" else "code"
        rows.append(
            dict(
                doc_id=doc_id,
                pos=0,
                token_id=0,
                char_start=-1,
                char_end=-1,
                domain=domain,
                domain_type=domain_type,
                token_text=None,
                log_pos=None,
            )
        )
        for pos, ((piece, start, end), (rlen, rdist)) in enumerate(zip(pieces, repeats(ids), strict=True), start=1):
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
            rows.append(
                dict(
                    doc_id=doc_id,
                    pos=pos,
                    token_id=ids[pos - 1],
                    char_start=start,
                    char_end=end,
                    domain=domain,
                    domain_type=domain_type,
                    token_text=piece,
                    log_pos=math.log10(pos),
                    upos=upos,
                    tag=None if upos is None else _PENN[upos],
                    word_class=cls,
                    word_piece="single",
                    bracket_kind="round" if side != "none" else None,
                    bracket_side=side,
                    repeat_len=rlen,
                    repeat_dist=rdist,
                    code_class=code,
                    loss_baseline=loss_b,
                    loss_candidate=loss_c,
                )
            )
    frame = pd.DataFrame(rows)
    counts = Counter(frame["token_id"])
    frame["log_freq"] = [math.log10(counts[t]) for t in frame["token_id"]]
    return frame


def write_checkpoints(run: RunDir, frame: pd.DataFrame) -> None:
    """Two series of three checkpoints each; the hybrid is 0.2 nats better, both improve with steps."""
    scored = frame[frame["pos"] >= 1]
    for series, offset in (("transformer", 0.0), ("hybrid", 0.2)):
        for step in (1000, 2000, 4000):
            loss = scored["loss_baseline"] + 1.0 - offset - 0.0001 * step + 0.05 * (scored["pos"] % 2)
            table = pa.table({"doc_id": scored["doc_id"], "pos": scored["pos"].astype("int32"),
                              "loss": loss.astype("float32")})  # fmt: skip
            pq.write_table(table, run.scores_path(f"{series}@step{step}"))


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
            out.append(
                dict(
                    direction=direction,
                    rank=len(taken),
                    doc_id=doc_id,
                    pos_start=start,
                    pos_end=end,
                    n_tokens=width,
                    mean_gap=total / width,
                    sum_gap=total,
                    text="".join(seg["token_text"]),
                )
            )
            if len(taken) == top:
                break
    return out


def _fixture_segments(scored: pd.DataFrame) -> list[dict]:
    b2 = scored[scored["doc_id"] == "b2"]
    text_b2 = DOCS[1][2]
    seg = b2[(b2.pos >= 3) & (b2.pos < 14)]  # " <script>alert(1)</script>"
    return [
        dict(
            direction="candidate_loses",
            rank=1,
            doc_id="b2",
            pos_start=3,
            pos_end=14,
            n_tokens=len(seg),
            mean_gap=float(seg["gap"].mean()),
            sum_gap=float(seg["gap"].sum()),
            text=text_b2[int(seg.char_start.iloc[0]) : int(seg.char_end.iloc[-1])],
        ),
        dict(
            direction="candidate_wins",
            rank=1,
            doc_id="p1",
            pos_start=10,
            pos_end=14,
            n_tokens=4,
            mean_gap=0.5,
            sum_gap=2.0,
            text="return (x + 1)",
        ),
    ]


def make_run(
    path: Path,
    *,
    curves: bool = True,
    docs: list[tuple[str, str, str]] = DOCS,
    losses: LossModel = fixture_losses,
    segments: list[dict] | None = None,
) -> tuple[RunDir, pd.DataFrame]:
    """Write the synthetic run to `path` and its results (real compare and curves, intervals down to 2
    effective documents); return it with the token table it was made from."""
    run = RunDir(path)
    frame = token_rows(docs, losses)
    run.write("corpus", pa.table({"doc_id": [d for d, _, _ in docs], "domain": [m for _, m, _ in docs],
                                  "text": [t for _, _, t in docs], "source": ["synthetic"] * len(docs)}))  # fmt: skip
    run.write("tokens", pa.Table.from_pandas(frame[["doc_id", "pos", "token_id", "char_start", "char_end"]],
                                             preserve_index=False))  # fmt: skip
    scored = frame[frame["pos"] >= 1]
    run.scores_dir.mkdir(parents=True, exist_ok=True)
    for name, col in ((BASELINE, "loss_baseline"), (CANDIDATE, "loss_candidate")):
        table = scored[["doc_id", "pos", col]].rename(columns={col: "loss"}).astype({"pos": "int32", "loss": "float32"})
        # what scoring records beside the loss (made up here from it): entropy, and the true token's rank
        table = table.assign(entropy=(table["loss"] / 2 + 0.25).astype("float32"),
                             rank=(1 + np.floor(table["loss"])).astype("int32"))  # fmt: skip
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), run.scores_path(name))
    feats = frame.drop(columns=["token_id", "char_start", "char_end", "loss_baseline", "loss_candidate"])
    feats["repeat_dist"] = feats["repeat_dist"].astype("Int32")
    feats["repeat_len"] = feats["repeat_len"].fillna(0).astype("int32")
    feats["pos"] = feats["pos"].astype("int32")
    with run.features_writer() as writer:
        writer.write(pa.Table.from_pandas(feats[FEATURES_SCHEMA.names], schema=FEATURES_SCHEMA, preserve_index=False))
    for name, model, revision, dtype, context, loss in (
        (BASELINE, "HuggingFaceTB/SmolLM2-135M", None, "float32", ModelContext(max_length=64, stride=32, policy="windows of 64 tokens, stride 32", prefix="bos"), "loss_baseline"),
        (CANDIDATE, "HuggingFaceTB/SmolLM2-135M", "main", "bfloat16", ModelContext(max_length=8192, stride=4096, policy="full document", prefix="bos"), "loss_candidate"),
    ):  # fmt: skip
        run.record_model(name, ModelRecord(model=model, revision=revision, dtype=dtype, device="cpu", architecture="LlamaForCausalLM",
                                           context=context, requested={}, n_docs=len(docs), n_tokens=len(scored),
                                           mean_loss=float(scored[loss].mean())))  # fmt: skip
    run.record_corpus(CorpusRecord(fingerprint="abc", source="synthetic.jsonl", n_docs=len(docs), n_read=len(docs) + 1,
                                   skipped={"empty": 1}))  # fmt: skip
    run.record_tokenizer(
        TokenizerRecord(fingerprint="def", prefix_token_id=0, policy="bos", first_model="x", n_tokens=len(frame))
    )
    run_compare(run, CompareConfig(baseline=BASELINE, candidate=CANDIDATE, min_eff_docs=2, top_k=5, segment_tokens=8))
    if segments is None and set(scored["doc_id"]) == {d for d, _, _ in DOCS}:
        segments = _fixture_segments(scored.assign(gap=scored["loss_baseline"] - scored["loss_candidate"]))
    if segments is not None:
        # the fixture's own segments replace the computed ones in the comparison's files
        run.result_file("top_segments.csv").write_text(
            table_to_csv(RESULTS["top_segments.csv"], pd.DataFrame(segments))
        )
    if curves:
        write_checkpoints(run, frame)
        masks = ("all", "close_bracket") if (frame["bracket_side"] == "close").any() else ("all",)
        run_curves(run, CurvesConfig(series=(Series(label="transformer"), Series(label="hybrid")), masks=masks,
                                     min_eff_docs=2))  # fmt: skip
    return run, frame


__all__ = ["BASELINE", "CANDIDATE", "DOCS", "make_run", "repeats", "token_rows", "tokenize"]
