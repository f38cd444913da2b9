"""Coverage of lossgap's intervals on simulated corpora with a planted truth, regime by regime.

Each simulated corpus has documents of varying length and difficulty (a document effect shared by its tokens)
and tokens of levels A, B, C, D with planted mean gaps 0.04, 0.02, 0.03, 0.03 (so A − B = 0.02 is a planted
effect and C − D = 0 a planted null), plus a paired difference between two series (a planted 0.015 lead on
every token, on top of documents of very different difficulty). For each interval method it counts how often
the 95% interval covers the truth of: the level mean of A, the contrast A − B, the null contrast C − D, the
paired difference, and a rare level R (tokens in 20% of documents, when the regime has it).

    python benchmarks/interval_coverage.py --corpora 2000 --out docs/benchmarks/coverage.json

With `--seeds N` (N >= 2) each side of the comparison is N seed replicates: every seed shifts its side's
losses by a seed effect (sd 0.03 on every token, 0.02 more per level, 0.05 per document), and the interval is
lossgap's over documents and seeds (analysis.replicates: the mean over pairs, seed-by-seed estimates for the
seed variance); `doc_only` counts how often the documents' interval alone would cover.

    python benchmarks/interval_coverage.py --corpora 1000 --method cr2 --seeds 2 3 5 --regime base --regime docs20

Regimes: `base` (100 documents, lengths uniform 100–300, normal document effects), `lognormal` (log-normal
lengths), `docs8` (8 documents, as in `lossgap demo`), `docs20` (20 documents), `docs200` (200 documents), `heavy` (document effects with t(3) tails),
`length_effect` (the gap grows with document length), `rare` (level R in 20% of 50 documents).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lossgap.analysis.config import IntervalSpec  # noqa: E402
from lossgap.analysis.estimate import Contrast, LevelSums, estimate  # noqa: E402
from lossgap.analysis.replicates import SeedSpread  # noqa: E402

LEVELS = ("A", "B", "C", "D", "R")
GAPS = np.array([0.04, 0.02, 0.03, 0.03, 0.05])
SHARES = np.array([0.3, 0.3, 0.2, 0.2])  # of the non-rare tokens
PAIRED_LEAD = 0.015


@dataclass(frozen=True)
class Regime:
    name: str
    n_docs: int = 100
    lengths: str = "uniform"  # uniform 100-300 | lognormal (median 150, sigma 1)
    doc_sd: float = 0.3  # document effect on every token's gap
    heavy: bool = False  # document effects t(3) instead of normal
    length_slope: float = 0.0  # gap += slope * log2(L / 150): longer documents, larger gaps
    rare_share: float = 0.0  # share of documents holding level R
    slope_sd: float = 0.05  # document-to-document variation of the A − B difference (and of C − D)
    min_eff_docs: float = 10.0  # lossgap's default; the demo's 8 documents are drawn with 3


REGIMES = {
    r.name: r
    for r in (
        Regime("base"),
        Regime("lognormal", lengths="lognormal"),
        Regime("docs8", n_docs=8, min_eff_docs=3.0),
        Regime("docs20", n_docs=20),
        Regime("docs200", n_docs=200),
        Regime("heavy", heavy=True),
        Regime("length_effect", lengths="lognormal", length_slope=0.05),
        Regime("rare", n_docs=50, rare_share=0.2),
    )
}


def _lengths(regime: Regime, rng: np.random.Generator, size: int) -> np.ndarray:
    if regime.lengths == "lognormal":
        return np.maximum(5, np.round(rng.lognormal(np.log(150), 1.0, size))).astype(int)
    return rng.integers(100, 301, size)


def _length_shift(regime: Regime) -> float:
    """E[L · slope · log2(L/150)] / E[L]: the length effect's part of the token-weighted truth (10^7 draws)."""
    if not regime.length_slope:
        return 0.0
    lengths = _lengths(regime, np.random.default_rng(12345), 10_000_000).astype(np.float64)
    return float(regime.length_slope * np.sum(lengths * np.log2(lengths / 150)) / np.sum(lengths))


def truths(regime: Regime) -> dict[str, float]:
    """The token-weighted population values the intervals should cover."""
    shift = _length_shift(regime)
    ac, bd = [0, 2], [1, 3]
    pooled = float(GAPS[ac] @ SHARES[ac] / SHARES[ac].sum() - GAPS[bd] @ SHARES[bd] / SHARES[bd].sum())
    return {"level_A": GAPS[0] + shift, "contrast_A_B": GAPS[0] - GAPS[1], "null_C_D": 0.0,
            "pooled_AC_BD": pooled, "A_minus_all": float(GAPS[0] - GAPS[:4] @ SHARES),
            "paired": PAIRED_LEAD, "level_R": GAPS[4] + shift}  # fmt: skip


def simulate(regime: Regime, rng: np.random.Generator) -> tuple[LevelSums, LevelSums]:
    """One corpus: per-(document, level) sums of the gap, and of the paired difference (one level: all)."""
    lengths = _lengths(regime, rng, regime.n_docs)
    effect = rng.standard_t(3, regime.n_docs) / np.sqrt(3) if regime.heavy else rng.normal(0, 1, regime.n_docs)
    doc_effect = regime.doc_sd * effect + regime.length_slope * np.log2(lengths / 150)
    slope = rng.normal(0, regime.slope_sd, regime.n_docs)
    has_rare = rng.random(regime.n_docs) < regime.rare_share
    doc, level, n, s = [], [], [], []
    for d in range(regime.n_docs):
        rare = int(rng.binomial(lengths[d], 0.1)) if has_rare[d] else 0
        counts = np.append(rng.multinomial(lengths[d] - rare, SHARES), rare)
        for k in np.flatnonzero(counts):
            # A and C get +slope/2, B and D −slope/2: the documents disagree about the contrasts, mean zero
            tilt = slope[d] / 2 * (1 if k in (0, 2) else -1 if k in (1, 3) else 0)
            mu = GAPS[k] + doc_effect[d] + tilt
            doc.append(d)
            level.append(k)
            n.append(counts[k])
            s.append(counts[k] * mu + np.sqrt(counts[k]) * rng.normal(0, 1.0))  # token noise sd 1 nat
    gap = LevelSums(np.array(doc), np.array(level), np.array(n, float), np.array(s), LEVELS, regime.n_docs)
    # paired difference of two series: the documents' difficulty cancels, a small per-document wobble stays
    wobble = rng.normal(0, 0.02, regime.n_docs)
    paired_s = lengths * (PAIRED_LEAD + wobble) + np.sqrt(lengths) * rng.normal(0, 0.3, regime.n_docs)
    paired = LevelSums(np.arange(regime.n_docs), np.zeros(regime.n_docs, int), lengths.astype(float), paired_s,
                       ("all",), regime.n_docs)  # fmt: skip
    return gap, paired


SEED_SD, SEED_LEVEL_SD, SEED_DOC_SD = 0.03, 0.02, 0.05


def seed_sums(
    gap: LevelSums, n_seeds: int, rng: np.random.Generator
) -> tuple[LevelSums, list[LevelSums], list[LevelSums]]:
    """The gap of the seeds' mean losses, and each seed of a side against the other side's mean, from a corpus
    whose gap is `gap` before seeds: a seed adds u + v_level + w_document (mean zero) to its side's losses."""

    def side() -> np.ndarray:  # (n_seeds, rows): each seed's shift of each (document, level) sum
        u = rng.normal(0, SEED_SD, (n_seeds, 1))
        v = rng.normal(0, SEED_LEVEL_SD, (n_seeds, len(gap.names)))[:, gap.level]
        w = rng.normal(0, SEED_DOC_SD, (n_seeds, gap.n_docs))[:, gap.doc]
        return gap.n * (u + v + w) + np.sqrt(gap.n) * rng.normal(0, 0.1, (n_seeds, len(gap.n)))

    b, c = side(), side()
    with_sum = lambda s: LevelSums(gap.doc, gap.level, gap.n, s, gap.names, gap.n_docs)  # noqa: E731
    mean = with_sum(gap.s + b.mean(0) - c.mean(0))
    return (mean, [with_sum(gap.s + bi - c.mean(0)) for bi in b], [with_sum(gap.s + b.mean(0) - cj) for cj in c])


def coverage(
    regime: Regime, corpora: int, spec: IntervalSpec, seed: int = 0, seeds: int = 1
) -> dict[str, dict[str, float]]:
    """For each target: the share of intervals covering the truth, and the share of corpora with no interval
    (`seeds` >= 2: each side that many seed replicates; also `doc_only`, the documents' interval alone)."""
    truth = truths(regime)
    rng = np.random.default_rng(seed)
    hits: dict[str, list[bool]] = {t: [] for t in truth}
    missing: dict[str, int] = {t: 0 for t in truth}
    targets = [("level_A", Contrast((0,))), ("contrast_A_B", Contrast((0,), (1,))), ("null_C_D", Contrast((2,), (3,))),
               ("pooled_AC_BD", Contrast((0, 2), (1, 3))), ("A_minus_all", Contrast((0,), (0, 1, 2, 3)))]  # fmt: skip
    if regime.rare_share:
        targets.append(("level_R", Contrast((4,))))
    doc_only: dict[str, list[bool]] = {t: [] for t in truth}
    contrasts = [c for _, c in targets]
    for _ in range(corpora):
        gap, paired = simulate(regime, rng)
        if seeds >= 2:
            gap, per_b, per_c = seed_sums(gap, seeds, rng)
        got = estimate(gap, contrasts, spec)
        if seeds >= 2:
            for j, (name, _) in enumerate(targets):
                doc_only[name].append(bool(got.ci_low[j] <= truth[name] <= got.ci_high[j]))
            per = lambda sides: np.array([estimate(s, contrasts, spec).estimate for s in sides])  # noqa: E731
            spread = SeedSpread(got.estimate, got.ci_low, got.ci_high, per(per_b), per(per_c), spec.confidence)
            got = type(got)(got.estimate, np.where(np.isnan(got.ci_low), np.nan, spread.ci_low),
                            np.where(np.isnan(got.ci_low), np.nan, spread.ci_high), spread.p, got.n_tokens, got.n_docs,
                            got.n_eff_docs, got.note)  # fmt: skip
        got_paired = estimate(paired, [Contrast((0,))], spec)
        rows = [(name, got, j) for j, (name, _) in enumerate(targets)] + [("paired", got_paired, 0)]
        for name, result, j in rows:
            if np.isnan(result.ci_low[j]):
                missing[name] += 1
            else:
                hits[name].append(bool(result.ci_low[j] <= truth[name] <= result.ci_high[j]))
    return {
        name: {"coverage": float(np.mean(h)) if h else float("nan"), "no_interval": missing[name] / corpora,
               "corpora": corpora, **({"doc_only": float(np.mean(doc_only[name]))} if doc_only[name] else {})}
        for name, h in hits.items() if h or missing[name]
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", type=int, default=2000)
    parser.add_argument("--regime", action="append", choices=sorted(REGIMES), help="default: all")
    parser.add_argument("--method", action="append", choices=["cr2", "bootstrap"], help="default: both")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="seed replicates a side (1: none)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = {}
    for name in args.regime or list(REGIMES):
        for method in args.method or ["cr2", "bootstrap"]:
            for seeds in args.seeds:
                spec = IntervalSpec(
                    interval=method, bootstrap=args.bootstrap, seed=1, min_eff_docs=REGIMES[name].min_eff_docs
                )
                started = time.perf_counter()
                table = coverage(REGIMES[name], args.corpora, spec, seed=zlib.crc32(name.encode()), seeds=seeds)
                seconds = time.perf_counter() - started
                key = f"{name}/{method}" + (f"/seeds{seeds}" if seeds > 1 else "")
                results[key] = {"targets": table, "seconds": round(seconds, 1)}
                cells = "  ".join(f"{t} {v['coverage']:.3f}" + (f" (none {v['no_interval']:.2f})" if v["no_interval"] else "")
                                  + (f" (docs only {v['doc_only']:.3f})" if "doc_only" in v else "")
                                  for t, v in table.items())  # fmt: skip
                print(f"{key:>22}  {cells}  [{seconds:.0f} s]", flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"command": " ".join(sys.argv), "corpora": args.corpora, "results": results}
        args.out.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
