"""The matched experiment's probes (CPU): comparisons, the copying check and the report from committed score tables.

    python experiments/matched/analyze_probes.py [--runs experiments/matched/probes-run ...] \
        [--out experiments/matched/results] [--figures docs/experiments]

For each probe run (`lossgap probes` documents scored by score.py; docs/experiments/matched.md, "Probes"), over
the series of the trio it holds (a run may hold two of them):

- `lossgap compare` of the final checkpoints, every pair of series; the `probe+probe_level` rows of each
  categories.csv (both models' loss on the marked tokens, the gap and its interval) go to --out/probes-RUN.csv
  with the pair's names;
- the copying check, --out/probes-copy-RUN.csv (runs with copy probes): per model, copy probe (copy,
  copy_distance) and level, the mean loss on the tokens of the first copy (the marks' sources) and on the marked
  tokens of the second (both without their first token), from the same categories.csv. A model that copies
  predicts the second copy far better than the first; equal losses mean it does not copy at all;
- the marks scored as answers, --out/probes-answers-RUN.csv (`lossgap.probes.answers`): per final checkpoint,
  probe and level, the loss per answer (its tokens summed) with an interval over documents, its first token, the
  per-token mean and chance per answer; and --out/probes-answer-gaps-RUN.csv: for each pair of final checkpoints,
  probe and level, the two compared answer by answer (`lossgap.probes.answers.answer_gaps`: baseline − candidate
  per answer, interval over documents);
- copying by distance, --out/probes-distance-RUN.csv (runs with copy probes): per final checkpoint, copy probe,
  level and bin of `probe_distance` (tokens back to the first token of the first copy), the mean loss on the
  marked tokens;
- where the run holds several checkpoints of each series, `lossgap curves` with one mask per probe (its marked
  tokens), the run's result `curves` (RUN/results/curves/, committed with the run), and the report;
- the report's probe figure of the final transformer against the final recurrent model,
  --figures/matched-STEM.png (STEM: the run's name less "-run"; probes-run gives matched-probes.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import pandas as pd
from analyze import PAIRS, SERIES, final_step
from score import lossgap  # this folder's step 3: `lossgap` commands in-process

from lossgap.analysis.groupings import PROBE_GROUPING, PROBE_SOURCE_GROUPING
from lossgap.probes.answers import answer_gaps, answer_losses, answer_table
from lossgap.probes.config import COPY_PROBES
from lossgap.rundir import RunDir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUNS = tuple(HERE / f"probes-{name}run" for name in ("", "mix-", "mix-copy-", "mix-copy-long-", "distance-", "swap-"))
DISTANCE_BINS = (0, 64, 128, 256, 512, float("inf"))  # probe_distance bins [from, to) of copying by distance


def copy_check(categories: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """Per model, copy probe (copy, copy_distance) and level, from one comparison's categories.csv: tokens and
    mean loss of the first copy (the marks' sources, `probe_source`) and of the second (the marked tokens), both
    without their first token."""
    rows = []
    for grouping, which in ((PROBE_SOURCE_GROUPING, "first"), (PROBE_GROUPING, "second")):
        part = categories[(categories["feature"] == grouping) & categories["level_1"].isin(COPY_PROBES)]
        for side, model in (("baseline", baseline), ("candidate", candidate)):
            rows += [{"model": model, "probe": r.level_1, "level": int(r.level_2),
                      "which": which, "n": r.n_tokens, "loss": getattr(r, f"mean_loss_{side}")}
                     for r in part.itertuples()]  # fmt: skip
    wide = pd.DataFrame(rows).pivot_table(index=["model", "probe", "level"], columns="which", values=["n", "loss"])
    out = pd.DataFrame({"n_first": wide[("n", "first")], "loss_first": wide[("loss", "first")],
                        "n_second": wide[("n", "second")], "loss_second": wide[("loss", "second")]}).reset_index()  # fmt: skip
    out["second_minus_first"] = out["loss_second"] - out["loss_first"]
    return out.astype({"n_first": int, "n_second": int})


def copy_by_distance(rd: RunDir, names: list[str]) -> pd.DataFrame:
    """Per model of `names`, copy probe, level and bin [distance_from, distance_to) of probe_distance: the marked
    tokens, the documents they lie in and their mean loss."""
    con = duckdb.connect()
    parts = []
    for name in names:
        rd.token_view(
            con, "m", scores={"loss": name}, features=("probe", "probe_mark", "probe_level", "probe_distance")
        )
        marked = con.execute("SELECT doc_id, probe, probe_level AS level, probe_distance, loss FROM m "
                             "WHERE probe_mark AND list_contains(?, probe)", [list(COPY_PROBES)]).df()  # fmt: skip
        bins = pd.cut(marked["probe_distance"], DISTANCE_BINS, right=False)
        table = marked.groupby(["probe", "level", bins], observed=True).agg(
            n=("loss", "size"), n_docs=("doc_id", "nunique"), loss=("loss", "mean")).reset_index()  # fmt: skip
        parts.append(table.assign(model=name, distance_from=[int(i.left) for i in table["probe_distance"]],
                                  distance_to=[i.right for i in table["probe_distance"]]))  # fmt: skip
    columns = ["model", "probe", "level", "distance_from", "distance_to", "n", "n_docs", "loss"]
    return pd.concat(parts, ignore_index=True)[columns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", default=list(RUNS))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/experiments")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.figures.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    from lossgap.report.figures import draw_figures
    from lossgap.report.load import read_results

    for run in args.runs:
        rd = RunDir(run)
        step = final_step(rd.scored_names())
        series = [s for s in SERIES if rd.has_scores(f"{s}@step{step}")]
        finals = [f"{s}@step{step}" for s in series]
        stem = run.name.removesuffix("-run")
        probes = dict.fromkeys(rd.read("probes", ["probe"]).column("probe").to_pylist())
        copies = any(p in COPY_PROBES for p in probes)  # the copying check and copying by distance need copy marks
        rows, checks = {}, []
        for baseline, candidate in [p for p in PAIRS if set(p) <= set(series)]:
            b, c = f"{baseline}@step{step}", f"{candidate}@step{step}"
            lossgap(
                "compare",
                "--run",
                str(run),
                "--baseline",
                b,
                "--candidate",
                c,
                "--name",
                f"final-{candidate}-vs-{baseline}",
            )
            table = rd.read_results("categories.csv", f"final-{candidate}-vs-{baseline}")
            rows[baseline, candidate] = table[table["feature"] == PROBE_GROUPING].assign(baseline=b, candidate=c)
            if copies:
                checks.append(copy_check(table, b, c))
        pd.concat(rows[pair] for pair in PAIRS if pair in rows).to_csv(args.out / f"probes-{run.name}.csv", index=False)
        if copies:
            check = pd.concat(checks).drop_duplicates(["model", "probe", "level"])  # a model is in up to two pairs
            check["model"] = pd.Categorical(check["model"], finals, ordered=True)
            check.sort_values(["model", "probe", "level"]).to_csv(args.out / f"probes-copy-{run.name}.csv", index=False)
            copy_by_distance(rd, finals).to_csv(args.out / f"probes-distance-{run.name}.csv", index=False)
        answers = answer_losses(rd, finals)
        answer_table(answers).to_csv(args.out / f"probes-answers-{run.name}.csv", index=False, float_format="%.6g")
        gaps = [answer_gaps(answers, f"{b}@step{step}", f"{c}@step{step}") for b, c in PAIRS if {b, c} <= set(series)]
        pd.concat(gaps).to_csv(args.out / f"probes-answer-gaps-{run.name}.csv", index=False, float_format="%.6g")
        if len(rd.scored_names()) > len(series):  # a series of checkpoints: curves of each probe's marks, the report
            masks = [a for p in probes for a in ("--mask", f"probe = '{p}' AND probe_mark")]
            named = [a for s in series for a in ("--series", s)]
            lossgap("curves", "--run", str(run), *named, *masks, "--reference", "transformer", "--name", "curves")
            lossgap("report", "--run", str(run))
        figures = read_results(rd, rd.result("compare", "final-recurrent-vs-transformer"))
        for drawn in draw_figures(figures):  # the probes of transformer vs recurrent
            if drawn.key == "probes":
                drawn.figure.savefig(args.figures / f"matched-{stem}.png", dpi=110, bbox_inches="tight")
    print(f"tables: {args.out}/probes-*.csv")


if __name__ == "__main__":
    main()
