"""The error of lossgap's fast GPU path on trained weights, against a float32 reference scored on the same tokens.

    python experiments/matched/precision.py --run RUN [--fast-suffix -s1] [--reference-suffix -s1-float32] \
        [--step 305] [--out experiments/matched/results]

For each architecture, ARCH{FAST}@stepS is the checkpoint scored as a user gets it on a GPU (bf16 weights, packed
windows, fla's fused Gated DeltaNet, lossgap's variable-length attention) and ARCH{REFERENCE}@stepS the same
checkpoint scored with `--dtype float32` and without flash-linear-attention (transformers' PyTorch Gated DeltaNet,
SDPA attention); `score.py --suffix` names both (docs/experiments/matched.md). Writes

- OUT/precision.csv: per architecture, the per-token error (fast − reference, nats): mean (the bias), mean |error|,
  its quantiles (50%, 90%, 99%, 99.9%, max), the share of tokens off by more than 0.01 and 0.1 nats, and the
  mean |error| relative to the reference's mean loss;
- OUT/precision-categories.csv: per category of `lossgap compare`'s default groupings, each architecture's bias
  of the category mean (fast − reference) and each pair's bias of the gap (fast gap − reference gap), with the
  category's token count.

The category means come from `lossgap compare` of the reference (baseline) against the fast path (candidate),
run on RUN as results `precision-ARCH`.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ARCHS = ("transformer", "hybrid", "recurrent")
QUANTILES = (0.5, 0.9, 0.99, 0.999)


def token_errors(run, fast: str, reference: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """fast − reference loss of every scored token, aligned on (doc_id, pos)."""
    frames = [
        run.read_scores(n, ["doc_id", "pos", "loss"]).to_pandas().sort_values(["doc_id", "pos"])
        for n in (fast, reference)
    ]
    if (
        len(frames[0]) != len(frames[1])
        or not (frames[0][["doc_id", "pos"]].values == frames[1][["doc_id", "pos"]].values).all()
    ):
        raise SystemExit(f"{fast} and {reference} did not score the same tokens")
    return frames[0]["loss"].to_numpy(np.float64) - frames[1]["loss"].to_numpy(np.float64)


def token_table(errors: dict[str, np.ndarray], reference_means: dict[str, float]) -> pd.DataFrame:
    rows = []
    for arch, e in errors.items():
        a = np.abs(e)
        rows.append({"arch": arch, "n_tokens": len(e), "bias": e.mean(), "mean_abs": a.mean(),
                     **{f"abs_q{q * 100:g}": np.quantile(a, q) for q in QUANTILES}, "abs_max": a.max(),
                     "share_over_0.01": (a > 0.01).mean(), "share_over_0.1": (a > 0.1).mean(),
                     "reference_mean_loss": reference_means[arch], "rel_mean_abs": a.mean() / reference_means[arch]})  # fmt: skip
    return pd.DataFrame(rows)


def category_table(categories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per category: each architecture's bias of the mean (fast − reference) and each pair's bias of the gap."""
    keys = ["feature", "value"]
    table = None
    for arch, frame in categories.items():
        # compare's gap is baseline − candidate = reference − fast
        part = frame[[*keys, "n_tokens"]].assign(**{f"bias_{arch}": -frame["mean_gap"]})
        table = part if table is None else table.merge(part, on=[*keys, "n_tokens"], how="outer")
    for a, b in itertools.combinations(categories, 2):  # gap a − b: its bias is bias_a − bias_b
        table[f"gap_bias_{a}_minus_{b}"] = table[f"bias_{a}"] - table[f"bias_{b}"]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--fast-suffix", default="-s1")
    parser.add_argument("--reference-suffix", default="-s1-float32")
    parser.add_argument("--step", type=int, default=305)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    from lossgap.analysis import CompareConfig, run_compare
    from lossgap.rundir import RunDir

    run = RunDir(args.run)
    errors, means, categories = {}, {}, {}
    for arch in args.archs:
        fast, reference = (f"{arch}{s}@step{args.step}" for s in (args.fast_suffix, args.reference_suffix))
        errors[arch] = token_errors(run, fast, reference)
        means[arch] = float(run.manifest().models[reference].mean_loss)
        result = run_compare(run, CompareConfig(baseline=reference, candidate=fast, name=f"precision-{arch}"))
        categories[arch] = result.tables()["categories.csv"]
    args.out.mkdir(parents=True, exist_ok=True)
    tokens = token_table(errors, means)
    tokens.to_csv(args.out / "precision.csv", index=False, float_format="%.6g")
    cats = category_table(categories)
    cats.to_csv(args.out / "precision-categories.csv", index=False, float_format="%.6g")
    pd.set_option("display.width", 200)
    print(tokens.to_string(index=False))
    bias_cols = [c for c in cats.columns if c.startswith(("bias_", "gap_bias_"))]
    print("largest |bias| over categories:", cats[bias_cols].abs().max().round(5).to_dict())


if __name__ == "__main__":
    main()
