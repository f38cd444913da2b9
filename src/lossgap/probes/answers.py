"""Probe marks scored as answers: a mark (the recalled value, the tracked container, the possessive pronoun, a
copied string) is usually more than one token, and chance is a property of the answer, not of its tokens. Per-token
means hide that: a two-token container at 0.9 nats a token costs 1.8 nats as an answer, above the log 4 = 1.39 of
guessing among four containers.

`answer_losses` gives each mark's tokens summed (and its first token alone) for each scoring; `answer_table`
averages them per probe and level with an interval clustered by document, next to the per-token mean, chance, and, for
the tracking probes, a heuristic that does not track: the container of the last sentence that names the object
(`last_mention`). Its baseline in nats is the loss of a guesser that puts the heuristic's measured accuracy r on
its pick and spreads the rest over the other k - 1 choices, -r log r - (1 - r) log((1 - r) / (k - 1)): a model
must beat it to show more than the lookup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from lossgap.rundir import RunDir, as_rundir

__all__ = [
    "CHANCE",
    "answer_gaps",
    "answer_losses",
    "answer_table",
    "chance",
    "clustered_mean",
    "heuristic_loss",
    "last_mention",
]

# What guessing costs per answer (nats), where the generator fixes the choices: the container among the four the
# document names (tracking, tracking_swap), the possessive among the three stated, the value among the level's
# key-value pairs. Copies and brackets have no such choice set.
CHANCE = {"tracking": lambda level: math.log(4), "tracking_swap": lambda level: math.log(4),
          "pronoun": lambda level: math.log(3),
          "recall": lambda level: math.log(level) if level > 1 else 0.0}  # fmt: skip


def chance(probe: str, level: int) -> float:
    """The loss of a uniform guess among the answer's choices (NaN where the probe has no choice set)."""
    rule = CHANCE.get(probe)
    return float("nan") if rule is None else float(rule(level))


CHOICES = {"tracking": 4, "tracking_swap": 4}  # the containers a tracking document names


def last_mention(text: str, start: int) -> str | None:
    """The heuristic answer to the tracking question that ends at `start` ("... The coin is in the"): the container
    of the last sentence before "Now:" that names the object; None if the text is not a tracking question."""
    asked = re.search(r"The (\w+) is in the$", text[:start])
    if asked is None or "\nNow:" not in text[:start]:
        return None
    story = text[:start].split("\nNow:")[0]
    naming = [s for s in re.findall(r"[^.]+\.", story) if re.search(rf"\b{asked[1]}\b", s)]
    found = re.search(r"the (\w+)\.$", naming[-1].strip()) if naming else None
    return None if found is None else found[1]


def heuristic_loss(right: float, choices: int) -> float:
    """The loss (nats per answer) of a guesser right with probability `right` on its pick and uniform over the
    other choices: -r log r - (1 - r) log((1 - r) / (k - 1)) (log k at r = 1 / k, 0 at r = 1).

    >>> round(heuristic_loss(0.25, 4), 4) == round(math.log(4), 4), heuristic_loss(1.0, 4)
    (True, 0.0)
    """
    r = min(max(right, 0.0), 1.0)
    picked = r * math.log(r) if r > 0 else 0.0
    others = (1 - r) * math.log((1 - r) / (choices - 1)) if r < 1 else 0.0
    return 0.0 - picked - others


def answer_losses(run: RunDir | str, names: Sequence[str]) -> pd.DataFrame:
    """One row per (mark, scoring): doc_id, mark (its index in the document), probe, level, n_tokens, loss_sum,
    first_loss (its first marked token), name. A mark's tokens are the marked tokens (feature `probe_mark`) whose
    first visible character lies in its target span, the rule of `lossgap.features.probes`."""
    run = as_rundir(run)
    marks = run.read("probes", ["doc_id", "probe", "level", "char_start", "char_end"]).to_pandas()
    marks["mark"] = marks.groupby("doc_id").cumcount()
    columns = {f"loss{k}": name for k, name in enumerate(names)}
    con = duckdb.connect()
    try:  # the marked tokens with their characters and every scoring's loss
        run.token_view(con, "marked", tokens=("char_start", "char_end"), scores=columns, features=("probe_mark",))
        tokens = con.execute(f"SELECT doc_id, pos, char_start, char_end, {', '.join(columns)} FROM marked "
                             "WHERE probe_mark").df()  # fmt: skip
    finally:
        con.close()
    texts = dict(zip(*run.read("corpus", ["doc_id", "text"]).to_pydict().values(), strict=True))
    # each marked token's first visible character, then the mark whose span holds it
    first = []
    for t in tokens.itertuples():
        piece = texts[t.doc_id][t.char_start : t.char_end]
        first.append(t.char_start + len(piece) - len(piece.lstrip()))
    tokens["first_char"] = np.asarray(first, np.int64)
    pairs = tokens.merge(marks, on="doc_id", suffixes=("", "_mark"))
    pairs = pairs[(pairs["char_start_mark"] <= pairs["first_char"]) & (pairs["first_char"] < pairs["char_end_mark"])]
    pairs = pairs[["doc_id", "pos", "mark", "probe", "level", *columns]]
    # the last-mention heuristic where the probe has one: right or not, per mark
    heuristic = {}
    for m in marks[marks["probe"].isin(list(CHOICES))].itertuples():
        text = texts[m.doc_id]
        heuristic[m.doc_id, m.mark] = last_mention(text, m.char_start) == text[m.char_start : m.char_end].strip()
    frames = []
    for column, name in columns.items():
        scored = pairs[pairs[column].notna()].rename(columns={column: "loss"}).sort_values(["doc_id", "mark", "pos"])
        scored["loss"] = scored["loss"].astype(np.float64)
        grouped = scored.groupby(["doc_id", "mark", "probe", "level"], sort=False)["loss"]
        frame = grouped.agg(n_tokens="size", loss_sum="sum", first_loss="first").reset_index().assign(name=name)
        frame["heuristic_right"] = [heuristic.get(k, np.nan) for k in zip(frame["doc_id"], frame["mark"], strict=True)]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _heuristic(part: pd.DataFrame, probe: str) -> dict[str, float]:
    right = part["heuristic_right"].astype(float) if "heuristic_right" in part else pd.Series(dtype=float)
    if probe not in CHOICES or right.isna().all():
        return {"heuristic_right": math.nan, "heuristic_loss": math.nan}
    share = float(right.mean())
    return {"heuristic_right": share, "heuristic_loss": heuristic_loss(share, CHOICES[probe])}


def clustered_mean(values: pd.Series, doc_ids: pd.Series, confidence: float = 0.95) -> tuple[float, float, float, int]:
    """The mean of `values` (one per answer) with a t interval clustered by document: (mean, low, high, documents).
    The standard error is a ratio's linearization with the CR1 factor G / (G - 1), on G - 1 degrees of freedom;
    with equally many answers in every document it is the t interval over the documents' means."""
    frame = pd.DataFrame({"v": np.asarray(values, np.float64), "doc": np.asarray(doc_ids)})
    by_doc = frame.groupby("doc")["v"]
    sums, counts = by_doc.sum().to_numpy(np.float64), by_doc.size().to_numpy(np.float64)
    g, mean = len(sums), float(frame["v"].mean())
    if g < 2:
        return mean, math.nan, math.nan, g
    z = sums - mean * counts
    se = math.sqrt(g / (g - 1) * float((z**2).sum())) / counts.sum()
    half = float(stats.t.ppf(1 - (1 - confidence) / 2, g - 1)) * se
    return mean, mean - half, mean + half, g


def answer_table(answers: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per scoring, probe and level: answers, documents, tokens per answer, the per-token mean, the mean loss per
    answer with a t interval clustered by document (`clustered_mean`), the first token's mean, chance per answer,
    and for tracking the last-mention heuristic's share right and its baseline loss per answer."""
    rows = []
    for (name, probe, level), part in answers.groupby(["name", "probe", "level"], sort=False):
        mean, low, high, g = clustered_mean(part["loss_sum"], part["doc_id"], confidence)
        rows.append({"name": name, "probe": probe, "level": int(level), "n_answers": len(part), "n_docs": g,
                     "tokens_per_answer": float(part["n_tokens"].mean()),
                     "per_token": float(part["loss_sum"].sum() / part["n_tokens"].sum()),
                     "per_answer": mean, "ci_low": low, "ci_high": high,
                     "first_token": float(part["first_loss"].mean()), "chance": chance(probe, int(level)),
                     **_heuristic(part, probe)})  # fmt: skip
    table = pd.DataFrame(rows)
    order = {n: i for i, n in enumerate(dict.fromkeys(table["name"]))}  # scorings as given, then probe and level
    table = table.sort_values(["probe", "level"]).sort_values("name", key=lambda s: s.map(order), kind="stable")
    return table.reset_index(drop=True)


def answer_gaps(answers: pd.DataFrame, baseline: str, candidate: str, confidence: float = 0.95) -> pd.DataFrame:
    """Per probe and level, the two scorings compared answer by answer: the mean loss per answer of each, the gap
    baseline − candidate (positive: the candidate is better, as in `lossgap compare`) with a t interval clustered by
    document (`clustered_mean` of the paired differences), and the gap on the answers' first tokens. Only answers
    both scorings scored are paired."""
    key = ["doc_id", "mark", "probe", "level"]
    sides = [answers[answers["name"] == n].set_index(key)[["loss_sum", "first_loss"]] for n in (baseline, candidate)]
    for name, side in zip((baseline, candidate), sides, strict=True):
        if side.empty:
            raise ValueError(f"no answers scored by {name!r} (scorings here: {sorted(set(answers['name']))})")
    paired = sides[0].merge(sides[1], left_index=True, right_index=True, suffixes=("_b", "_c")).reset_index()
    paired["gap"] = paired["loss_sum_b"] - paired["loss_sum_c"]
    rows = []
    for (probe, level), part in paired.groupby(["probe", "level"], sort=True):
        gap, low, high, g = clustered_mean(part["gap"], part["doc_id"], confidence)
        rows.append({"baseline": baseline, "candidate": candidate, "probe": probe, "level": int(level),
                     "n_answers": len(part), "n_docs": g, "per_answer_baseline": float(part["loss_sum_b"].mean()),
                     "per_answer_candidate": float(part["loss_sum_c"].mean()), "gap": gap, "ci_low": low,
                     "ci_high": high, "first_token_gap": float((part["first_loss_b"] - part["first_loss_c"]).mean())})  # fmt: skip
    return pd.DataFrame(rows)
