"""Probe marks scored as answers: a mark (the recalled value, the tracked container, the possessive pronoun, a
copied string) is usually more than one token, and chance is a property of the answer, not of its tokens. Per-token
means hide that: a two-token container at 0.9 nats a token costs 1.8 nats as an answer, above the log 4 = 1.39 of
guessing among four containers.

`answer_losses` gives each mark's tokens summed (and its first token alone) for each scoring; `answer_table`
averages them per probe and level with an interval over documents, next to the per-token mean and chance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from lossgap.rundir import RunDir, as_rundir

__all__ = ["CHANCE", "answer_losses", "answer_table", "chance"]

# What guessing costs per answer (nats), where the generator fixes the choices: the container among the four the
# document names (tracking, tracking_swap), the possessive among the three stated, the value among the level's key-value pairs. Copies and
# brackets have no such choice set.
CHANCE = {"tracking": lambda level: math.log(4), "tracking_swap": lambda level: math.log(4),
          "pronoun": lambda level: math.log(3),
          "recall": lambda level: math.log(level) if level > 1 else 0.0}  # fmt: skip


def chance(probe: str, level: int) -> float:
    """The loss of a uniform guess among the answer's choices (NaN where the probe has no choice set)."""
    rule = CHANCE.get(probe)
    return float("nan") if rule is None else float(rule(level))


def answer_losses(run: RunDir | str, names: Sequence[str]) -> pd.DataFrame:
    """One row per (mark, scoring): doc_id, mark (its index in the document), probe, level, n_tokens, loss_sum,
    first_loss (its first marked token), name. A mark's tokens are the marked tokens (feature `probe_mark`) whose
    first visible character lies in its target span, the rule of `lossgap.features.probes`."""
    run = as_rundir(run)
    marks = run.read("probes", ["doc_id", "probe", "level", "char_start", "char_end"]).to_pandas()
    marks["mark"] = marks.groupby("doc_id").cumcount()
    tokens = run.read_tokens(columns=["doc_id", "pos", "char_start", "char_end"]).to_pandas()
    marked = run.read("features", ["doc_id", "pos", "probe_mark"]).to_pandas()
    tokens = tokens.merge(marked[marked["probe_mark"].fillna(False)][["doc_id", "pos"]], on=["doc_id", "pos"])
    texts = dict(zip(*run.read("corpus", ["doc_id", "text"]).to_pydict().values(), strict=True))
    # each marked token's first visible character, then the mark whose span holds it
    first = []
    for t in tokens.itertuples():
        piece = texts[t.doc_id][t.char_start : t.char_end]
        first.append(t.char_start + len(piece) - len(piece.lstrip()))
    tokens["first_char"] = np.asarray(first, np.int64)
    pairs = tokens.merge(marks, on="doc_id", suffixes=("", "_mark"))
    pairs = pairs[(pairs["char_start_mark"] <= pairs["first_char"]) & (pairs["first_char"] < pairs["char_end_mark"])]
    pairs = pairs[["doc_id", "pos", "mark", "probe", "level"]]
    frames = []
    for name in names:
        scores = run.read_scores(name, ["doc_id", "pos", "loss"]).to_pandas()
        scored = pairs.merge(scores, on=["doc_id", "pos"]).sort_values(["doc_id", "mark", "pos"])
        scored["loss"] = scored["loss"].astype(np.float64)
        grouped = scored.groupby(["doc_id", "mark", "probe", "level"], sort=False)["loss"]
        frames.append(grouped.agg(n_tokens="size", loss_sum="sum", first_loss="first").reset_index().assign(name=name))
    return pd.concat(frames, ignore_index=True)


def answer_table(answers: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per scoring, probe and level: answers, documents, tokens per answer, the per-token mean, the mean loss per
    answer with a t interval over documents (each document's mean answer one unit), the first token's mean, and
    chance per answer."""
    rows = []
    for (name, probe, level), part in answers.groupby(["name", "probe", "level"], sort=False):
        per_doc = part.groupby("doc_id")["loss_sum"].mean().to_numpy(np.float64)
        g = len(per_doc)
        mean = float(part["loss_sum"].mean())
        half = (
            float(stats.t.ppf(1 - (1 - confidence) / 2, g - 1) * per_doc.std(ddof=1) / math.sqrt(g))
            if g > 1
            else math.nan
        )
        rows.append({"name": name, "probe": probe, "level": int(level), "n_answers": len(part), "n_docs": g,
                     "tokens_per_answer": float(part["n_tokens"].mean()),
                     "per_token": float(part["loss_sum"].sum() / part["n_tokens"].sum()),
                     "per_answer": mean, "ci_low": mean - half, "ci_high": mean + half,
                     "first_token": float(part["first_loss"].mean()), "chance": chance(probe, int(level))})  # fmt: skip
    table = pd.DataFrame(rows)
    order = {n: i for i, n in enumerate(dict.fromkeys(table["name"]))}  # scorings as given, then probe and level
    table = table.sort_values(["probe", "level"]).sort_values("name", key=lambda s: s.map(order), kind="stable")
    return table.reset_index(drop=True)
