"""Step 4 of the matched experiment (CPU): curves, comparisons, the report and the documentation's figures from the
committed score tables and training logs.

    python experiments/matched/analyze.py [--run experiments/matched/run] [--logs experiments/matched/results]

Runs, through lossgap's own commands, each as a named result of the one run: `lossgap curves` of the three
series against the transformer (`curves`) and against the hybrid (`curves-ref-hybrid`); `lossgap compare` of the
final checkpoints (`final-hybrid-vs-transformer`, `final-recurrent-vs-hybrid`, `final-recurrent-vs-transformer`:
candidate first; the first by name opens the report); the in-loop evaluator's logs (`training`); and `lossgap
report`, which shows all of them. A copy of each comparison's and each reference's tables goes to
--logs/TABLE-WHICH.csv, the tables committed with the experiment. Figures for docs/experiments/matched.md are
written to --figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

from score import lossgap  # this folder's step 3: `lossgap` commands in-process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MASKS = ("all", "content_nonrepeat", "function_nonrepeat", "repeated", "nonrepeated", "open_bracket", "close_bracket")
SERIES = ("transformer", "hybrid", "recurrent")
PAIRS = (("hybrid", "recurrent"), ("transformer", "recurrent"), ("transformer", "hybrid"))  # (baseline, candidate)
COMPARE_TABLES = ("categories.csv", "contrasts.csv", "repeat_curve.csv", "summary.json")


def final_step(run: Path) -> int:
    names = [p.stem for p in (run / "scores").glob("*.parquet")]
    return max(int(m.group(1)) for n in names if (m := re.fullmatch(r"\w+@step(\d+)", n)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=HERE / "run")
    parser.add_argument("--logs", type=Path, default=HERE / "results", help="training logs in, table copies out")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/experiments")
    args = parser.parse_args()
    run, logs = args.run, args.logs
    if not (run / "features.parquet").is_file():
        lossgap("annotate", "--run", str(run))
    from lossgap.rundir import RunDir

    rd = RunDir(run)
    masks = [a for m in MASKS for a in ("--mask", m)]
    series = [a for s in SERIES for a in ("--series", s)]
    lossgap("curves", "--run", str(run), *series, *masks, "--reference", "hybrid", "--name", "curves-ref-hybrid")
    shutil.copyfile(rd.result_file("curves_diff.csv", "curves-ref-hybrid"), logs / "curves_diff-vs-hybrid.csv")
    lossgap("curves", "--run", str(run), *series, *masks, "--reference", "transformer", "--name", "curves")
    for name in ("curves.csv", "curves_diff.csv"):
        shutil.copyfile(rd.result_file(name, "curves"), logs / name.replace(".csv", "-vs-transformer.csv"))
    step = final_step(run)
    for baseline, candidate in PAIRS:
        result = f"final-{candidate}-vs-{baseline}"
        lossgap("compare", "--run", str(run), "--baseline", f"{baseline}@step{step}", "--candidate",
                f"{candidate}@step{step}", "--name", result)  # fmt: skip
        for name in COMPARE_TABLES:
            stem, ext = name.rsplit(".", 1)
            shutil.copyfile(rd.result_file(name, result), logs / f"{stem}-{candidate}-vs-{baseline}.{ext}")

    from lossgap.inloop import write_training_curves

    write_training_curves(run, {s: logs / f"log-{s}.jsonl" for s in SERIES})
    lossgap("report", "--run", str(run))

    import matplotlib

    matplotlib.use("Agg")
    from lossgap.report.figures import draw_figures
    from lossgap.report.load import read_results

    args.figures.mkdir(parents=True, exist_ok=True)
    for drawn in draw_figures(read_results(rd)):  # the report's first page: hybrid vs transformer, with the curves
        if drawn.key in ("curves", "curves-diff", "training", "brackets", "repeats"):
            drawn.figure.savefig(args.figures / f"matched-{drawn.key}.png", dpi=110, bbox_inches="tight")
    print(f"report: {run / 'report' / 'index.html'}; figures: {args.figures}/matched-*.png")


if __name__ == "__main__":
    main()
