"""Coverage of the regression-adjusted contrasts (CR2, Bell–McCaffrey degrees of freedom) on simulated token-level
corpora with a planted truth, regime by regime, against CR1 on G − 1 degrees of freedom (what lossgap used before).

Each corpus has prose documents (tokens of word class content or function, in rarity bins 0–4, content words
rarer) and, in some regimes, code documents (no word class, a rarity effect of the opposite sign). A token's gap
is its document's effect + its rarity bin's effect + 0.030 if it is a content word + the document's own tilt of
the content − function difference (mean zero) + noise of 1 nat. The additive model with rarity bins holds in
prose, so the adjusted content − function has the planted truth 0.030; the bracket regime plants close − open =
−0.020 in the bracket tokens of 10 of 50 documents. Each corpus is fitted as `compare` fits a family: on the
factor's own population, controls in bins, marginal means over that population.

    python benchmarks/adjusted_coverage.py --corpora 1000 --out docs/benchmarks/adjusted-coverage.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lossgap.analysis.join import JOINED, connect  # noqa: E402
from lossgap.analysis.regression import Control, fit_factor  # noqa: E402

CONTENT_LEAD = 0.030
CLOSE_MINUS_OPEN = -0.020
RARITY = np.array([0.10, 0.05, 0.0, -0.03, -0.06])  # effect of rarity bins 0 (rarest) … 4 in prose
CODE_RARITY = -RARITY  # code: the opposite


@dataclass(frozen=True)
class Regime:
    name: str
    n_docs: int = 100
    lengths: str = "uniform"  # uniform 100–300 | lognormal (median 150, sigma 1)
    code_share: float = 0.0  # documents that are code (no word class)
    length_slope: float = 0.0  # document effect grows with log2(length / 150)
    brackets: bool = False  # the factor is close vs open brackets, in 10 of 50 documents


REGIMES = {
    r.name: r
    for r in (
        Regime("base"),
        Regime("docs8", n_docs=8),
        Regime("docs15", n_docs=15),
        Regime("lognormal", lengths="lognormal"),
        Regime("code_share", code_share=0.3),
        Regime("length_effect", lengths="lognormal", length_slope=0.05),
        Regime("brackets", n_docs=50, brackets=True),
    )
}


def simulate(regime: Regime, rng: np.random.Generator) -> pd.DataFrame:
    """One corpus's tokens: doc_idx, level (the factor, or None), rarity bin, gap."""
    if regime.lengths == "lognormal":
        lengths = np.maximum(5, np.round(rng.lognormal(np.log(150), 1.0, regime.n_docs))).astype(int)
    else:
        lengths = rng.integers(100, 301, regime.n_docs)
    effect = rng.normal(0, 0.3, regime.n_docs) + regime.length_slope * np.log2(lengths / 150)
    tilt = rng.normal(0, 0.05, regime.n_docs)
    code = rng.random(regime.n_docs) < regime.code_share
    bracket_docs = set(rng.choice(regime.n_docs, 10, replace=False)) if regime.brackets else set()
    frames = []
    for d, length in enumerate(lengths):
        if regime.brackets:
            level = np.where(rng.random(length) < 0.1, rng.choice(["open", "close"], length), None) if d in bracket_docs \
                else np.full(length, None)  # fmt: skip
            first, lead = level == "close", CLOSE_MINUS_OPEN
        elif code[d]:
            level, first, lead = np.full(length, None), np.zeros(length, bool), 0.0
        else:
            first = rng.random(length) < 0.5
            level, lead = np.where(first, "content", "function"), CONTENT_LEAD
        # content words (and closing brackets) lean to the rare bins: rarity is confounded with the factor
        rarity = np.where(first, rng.integers(0, 4, length), rng.integers(1, 5, length))
        rarity_effect = (CODE_RARITY if code[d] else RARITY)[rarity]
        gap = effect[d] + rarity_effect + first * (lead + tilt[d]) + rng.normal(0, 1.0, length)
        frames.append(pd.DataFrame({"doc_idx": d, "level": level, "rarity": rarity.astype(str), "gap": gap}))
    return pd.concat(frames, ignore_index=True)


def fitted(tokens: pd.DataFrame, regime: Regime, confidence: float = 0.95) -> dict[str, tuple[float, float]]:
    """The adjusted contrast's interval under CR2 (Bell–McCaffrey df) and under CR1 (G − 1 df)."""
    first, second = ("close", "open") if regime.brackets else ("content", "function")
    with connect() as con:
        con.register("tokens", tokens)
        con.execute(f"CREATE TABLE {JOINED} AS SELECT * FROM tokens")
        fit = fit_factor(con, name="factor", factor="level", population="CASE WHEN level IS NOT NULL THEN 'scope' END",
                         controls=[Control("rarity", "rarity")], kind="flexible")  # fmt: skip
    if fit is None:
        return {}
    a = fit.combination([("scope", first)], [("scope", second)])
    _, low, high, _ = fit.interval(a, confidence)
    # CR1 on G − 1 degrees of freedom, from the same fit's CR1 scores: the former intervals, for comparison
    est = float(a @ fit.beta)
    se1 = float(np.sqrt(a @ fit.cov_cr1 @ a))
    half = stats.t.ppf(1 - (1 - confidence) / 2, fit.n_docs - 1) * se1
    return {"cr2_bm": (low, high), "cr1": (est - half, est + half)}


def coverage(regime: Regime, corpora: int, seed: int) -> dict[str, dict[str, float]]:
    truth = CLOSE_MINUS_OPEN if regime.brackets else CONTENT_LEAD
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = {"cr2_bm": [], "cr1": []}
    widths: dict[str, list[float]] = {"cr2_bm": [], "cr1": []}
    for _ in range(corpora):
        for method, (low, high) in fitted(simulate(regime, rng), regime).items():
            if np.isfinite(low):
                hits[method].append(bool(low <= truth <= high))
                widths[method].append(high - low)
    return {m: {"coverage": float(np.mean(h)), "mean_width": float(np.mean(widths[m])), "corpora": len(h)}
            for m, h in hits.items()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=int, default=1000)
    parser.add_argument("--regime", action="append", choices=sorted(REGIMES), help="default: all")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    for name in args.regime or list(REGIMES):
        started = time.perf_counter()
        table = coverage(REGIMES[name], args.corpora, seed=zlib.crc32(name.encode()))
        seconds = time.perf_counter() - started
        results[name] = {"methods": table, "seconds": round(seconds, 1)}
        cells = "  ".join(f"{m} {v['coverage']:.3f} (width {v['mean_width']:.3f})" for m, v in table.items())
        print(f"{name:>14}  {cells}  [{seconds:.0f} s]", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"command": " ".join(sys.argv), "corpora": args.corpora, "results": results}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
