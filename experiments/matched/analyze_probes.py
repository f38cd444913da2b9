"""The matched experiment's probes (CPU): comparisons, the copying check and the report from committed score tables.

    python experiments/matched/analyze_probes.py [--runs experiments/matched/probes-run ...] \
        [--out experiments/matched/results] [--figures docs/experiments]

For each probe run (`lossgap probes` documents scored by score.py; docs/experiments/matched.md, "Probes"):

- `lossgap compare` of the final checkpoints, every pair of the three series; the `probe+probe_level` rows of
  each categories.csv (both models' loss on the marked tokens, the gap and its interval) go to
  --out/probes-RUN.csv with the pair's names;
- the copying check, --out/probes-copy-RUN.csv: per model and string length, the mean loss on the tokens of the
  first copy (the marks' sources) and on the marked tokens of the second (both without their first token), from
  the same categories.csv. A model that copies predicts the second copy far better than the first; equal losses
  mean it does not copy at all;
- where the run holds several checkpoints of each series, `lossgap curves` with one mask per probe (its marked
  tokens), and the report, whose probe figure is saved as --figures/matched-probes.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from analyze import PAIRS, SERIES, final_step
from score import lossgap  # this folder's step 3: `lossgap` commands in-process

from lossgap.analysis.groupings import PROBE_GROUPING, PROBE_SOURCE_GROUPING
from lossgap.rundir import RunDir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUNS = (HERE / "probes-run", HERE / "probes-mix-run")


def copy_check(categories: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Per model and string length, from one comparison's categories.csv: tokens and mean loss of the first copy
    (the marks' sources, `probe_source`) and of the second (the marked tokens), both without their first token."""
    rows = []
    for grouping, which in ((PROBE_SOURCE_GROUPING, "first"), (PROBE_GROUPING, "second")):
        part = categories[(categories["feature"] == grouping) & categories["value"].str.startswith("copy|")]
        for side, model in (("baseline", baseline), ("candidate", candidate)):
            rows += [{"model": model, "level": int(r.value.split("|")[1]), "which": which, "n": r.n_tokens,
                      "loss": getattr(r, f"mean_loss_{side}")} for r in part.itertuples()]  # fmt: skip
    wide = pd.DataFrame(rows).pivot_table(index=["model", "level"], columns="which", values=["n", "loss"])
    out = pd.DataFrame({"n_first": wide[("n", "first")], "loss_first": wide[("loss", "first")],
                        "n_second": wide[("n", "second")], "loss_second": wide[("loss", "second")]}).reset_index()  # fmt: skip
    out["second_minus_first"] = out["loss_second"] - out["loss_first"]
    return out.astype({"n_first": int, "n_second": int})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", default=list(RUNS))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/experiments")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # transformer vs recurrent last: its results stay in the run for the report
    pairs = sorted(PAIRS, key=lambda pair: pair == ("transformer", "recurrent"))
    for run in args.runs:
        rd = RunDir(run)
        step = final_step(run)
        finals = [f"{s}@step{step}" for s in SERIES]
        rows, checks = {}, []
        for baseline, candidate in pairs:
            b, c = f"{baseline}@step{step}", f"{candidate}@step{step}"
            lossgap("compare", "--run", str(run), "--baseline", b, "--candidate", c)
            table = rd.read_results("categories.csv")
            rows[baseline, candidate] = table[table["feature"] == PROBE_GROUPING].assign(baseline=b, candidate=c)
            checks.append(copy_check(table, b, c))
        pd.concat(rows[pair] for pair in PAIRS).to_csv(args.out / f"probes-{run.name}.csv", index=False)
        check = pd.concat(checks).drop_duplicates(["model", "level"])  # each model is in two pairs
        check["model"] = pd.Categorical(check["model"], finals, ordered=True)
        check.sort_values(["model", "level"]).to_csv(args.out / f"probes-copy-{run.name}.csv", index=False)
        if len(rd.scored_names()) > len(SERIES):  # a series of checkpoints: curves of each probe's marks, the report
            masks = [a for p in ("copy", "recall", "tracking", "pronoun", "brackets")
                     for a in ("--mask", f"probe = '{p}' AND probe_mark")]  # fmt: skip
            series = [a for s in SERIES for a in ("--series", s)]
            lossgap("curves", "--run", str(run), *series, *masks, "--reference", "transformer")
            for name in ("curves.csv", "curves_diff.csv"):
                (args.out / f"probes-{name}").write_bytes((rd.results_dir / name).read_bytes())
            lossgap("report", "--run", str(run))
            import matplotlib

            matplotlib.use("Agg")
            from lossgap.report.figures import draw_figures
            from lossgap.report.load import read_results

            args.figures.mkdir(parents=True, exist_ok=True)
            for drawn in draw_figures(read_results(rd)):
                if drawn.key == "probes":
                    drawn.figure.savefig(args.figures / "matched-probes.png", dpi=110, bbox_inches="tight")
    print(f"tables: {args.out}/probes-*.csv")


if __name__ == "__main__":
    main()
