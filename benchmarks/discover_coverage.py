"""Coverage of `discover`'s held-out intervals, regime by regime, on simulated comparisons.

Each simulated comparison has documents of `per_doc` tokens with four feature columns (A: 4 levels of unequal
size, B: 3, C: 5, X: a skewed numeric column cut into quantile bins), a gap made of a document effect (sd
`doc_sd`), token noise with a t(5) tail whose scale varies by document, and, unless the regime is a null, a planted
effect on the slice A = b AND B = y. `discover_frame` searches every slice of up to two conditions on half of the
documents and estimates its `top_k` on the other half. For each regime this counts:

- **null**: under no effect anywhere, how often a selected slice's held-out 95% interval of "slice − rest" covers 0
  (the truth for every slice), against how often the search half's own interval would (|search t| < 1.96: what
  reporting the winners in-sample would give);
- **planted**: how often the planted slice is ranked first, and how often its held-out interval covers the planted
  effect (the truth of "slice − rest" is the effect itself: the rest has none).

    python benchmarks/discover_coverage.py --replicates 200 --out docs/benchmarks/discover-coverage.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lossgap.analysis.config import DiscoverConfig  # noqa: E402
from lossgap.analysis.discover import discover_frame  # noqa: E402

FEATURES = ("A", "B", "C", "X")
PLANTED = "A = b AND B = y"


@dataclass(frozen=True)
class Regime:
    name: str
    n_docs: int
    per_doc: int
    doc_sd: float
    effect: float
    criterion: str = "t"
    interval: str = "cr2"


REGIMES = {r.name: r for r in (
    Regime("null-200docs", 200, 60, 0.3, 0.0),
    Regime("null-40docs", 40, 60, 0.6, 0.0),
    Regime("null-1000docs", 1000, 30, 0.3, 0.0),
    Regime("null-200docs-excess", 200, 60, 0.3, 0.0, criterion="excess"),
    Regime("null-200docs-bootstrap", 200, 60, 0.3, 0.0, interval="bootstrap"),
    Regime("planted-200docs", 200, 60, 0.3, 0.3),
    Regime("planted-40docs", 40, 60, 0.6, 0.3),
)}  # fmt: skip


def simulate(rng: np.random.Generator, n_docs: int, per_doc: int, doc_sd: float, effect: float) -> pd.DataFrame:
    """One comparison's tokens (see the module docstring)."""
    n = n_docs * per_doc
    doc = np.repeat(np.arange(n_docs), per_doc)
    a = rng.choice(list("abcd"), n, p=[0.4, 0.3, 0.2, 0.1])
    b = rng.choice(["x", "y", "z"], n)
    c = rng.choice(list("pqrst"), n)
    x = rng.gamma(2.0, 1.0, n)
    scale = rng.uniform(0.5, 1.5, n_docs)[doc]
    gap = 0.05 + rng.normal(0, doc_sd, n_docs)[doc] + scale * rng.standard_t(5, n) * 0.8
    gap = gap + effect * ((a == "b") & (b == "y"))
    return pd.DataFrame({"doc_idx": doc, "gap": gap, "loss_baseline": 3.0 + gap, "loss_candidate": 3.0, "A": a,
                         "B": b, "C": c, "X": x})  # fmt: skip


def measure(regime: Regime, replicates: int, top_k: int) -> dict[str, object]:
    held_covers, search_covers, n_intervals, first, planted_covers = 0, 0, 0, 0, 0
    started = time.perf_counter()
    for r in range(replicates):
        frame = simulate(np.random.default_rng(10_000 + r), regime.n_docs, regime.per_doc, regime.doc_sd, regime.effect)
        config = DiscoverConfig(baseline="a", candidate="b", features=FEATURES, top_k=top_k, min_tokens=100,
                                criterion=regime.criterion, interval=regime.interval, bootstrap=400,  # type: ignore[arg-type]
                                split_seed=r)  # fmt: skip
        s = discover_frame(frame, config).slices.dropna(subset=["diff_ci_low"])
        if regime.effect == 0:
            held_covers += int(((s["diff_ci_low"] <= 0) & (s["diff_ci_high"] >= 0)).sum())
            search_covers += int((np.abs(s["search_t"]) < 1.96).sum())
            n_intervals += len(s)
        else:
            top = s.iloc[0] if len(s) else None
            if top is not None and top["conditions"] == PLANTED:
                first += 1
                planted_covers += int(top["diff_ci_low"] <= regime.effect <= top["diff_ci_high"])
    row: dict[str, object] = {**asdict(regime), "replicates": replicates, "top_k": top_k,
                              "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    if regime.effect == 0:
        row |= {"intervals": n_intervals, "held_out_coverage": held_covers / n_intervals,
                "search_half_coverage": search_covers / n_intervals}  # fmt: skip
    else:
        row |= {"planted_first": first / replicates, "planted_coverage": planted_covers / max(first, 1)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--regime", action="append", choices=tuple(REGIMES), help="repeatable (default: every one)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    for name in args.regime or REGIMES:
        row = measure(REGIMES[name], args.replicates, args.top_k)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
