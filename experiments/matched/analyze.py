"""Step 4 of the matched experiment (CPU): curves, comparisons, the report and the documentation's figures from the
committed score tables and training logs.

    python experiments/matched/analyze.py [--run experiments/matched/run] [--logs experiments/matched/results]

Runs, through lossgap's own functions, each as a named result of the one run (`RUN/results/NAME/`, committed with
the experiment; nothing is copied): the curves of the three series against the transformer (`curves`) and
against the hybrid (`curves-ref-hybrid`); the comparisons of the final checkpoints (`final-hybrid-vs-transformer`,
`final-recurrent-vs-hybrid`, `final-recurrent-vs-transformer`: candidate first; the first by name opens the
report); where the copying-regime run was scored (transformer-long@stepS, hybrid-long@stepS), its comparison at the
last step (`long-final-hybrid-vs-transformer`) and curves (`curves-long`); the in-loop evaluator's logs
(`training`); and `lossgap report`, which shows all of them. Seed
replicates are found by name: an architecture ARCH scored as ARCH@stepS (seed 0) and ARCH-s1@stepS, ARCH-s2@stepS,
... (other seeds, `score.py --suffix=-s1`) is a series of all its seeds, and each comparison pairs every seed of
one side with every seed of the other (intervals over documents and seeds). Figures for
docs/experiments/matched.md are written to --figures.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from score import lossgap  # this folder's step 3: `lossgap` commands in-process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MASKS = ("all", "content_nonrepeat", "function_nonrepeat", "repeated", "nonrepeated", "open_bracket", "close_bracket")
SERIES = ("transformer", "hybrid", "recurrent")
PAIRS = (("hybrid", "recurrent"), ("transformer", "recurrent"), ("transformer", "hybrid"))  # (baseline, candidate)
CURVES = ("curves-ref-hybrid", "curves")  # against the hybrid, against the transformer


DISCOVER = "discover-final-hybrid-vs-transformer"
# The copying-regime run (issue 25): size mini, 40M tokens over the training stream 4 times, seed 0, scored as
# ARCH-long@stepS; compared at its last step and followed over its checkpoints, against the transformer.
LONG = ("transformer-long", "hybrid-long")
LONG_RESULTS = ("long-final-hybrid-vs-transformer", "curves-long")


def final_step(names: list[str], series: str = r"\w+") -> int:
    """The last step scored by `series` (a regular expression; by default any name without a dash: seed 0)."""
    return max(int(m.group(1)) for n in names if (m := re.fullmatch(rf"{series}@step(\d+)", n)))


def seeds(names: list[str], arch: str) -> tuple[str, ...]:
    """The labels of `arch`'s other seeds among the scored names (ARCH-sN@stepS), by seed number."""
    found = {int(m.group(1)) for n in names if (m := re.fullmatch(rf"{arch}-s(\d+)@step\d+", n))}
    return tuple(f"{arch}-s{k}" for k in sorted(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=HERE / "run")
    parser.add_argument(
        "--logs", type=Path, default=HERE / "results", help="the training logs (log-ARCH.jsonl, seed 0)"
    )
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/experiments")
    args = parser.parse_args()
    run, logs = args.run, args.logs
    if not (run / "features.parquet").is_file():
        lossgap("annotate", "--run", str(run))
    from lossgap.rundir import RunDir

    rd = RunDir(run)
    from lossgap.analysis import CompareConfig, CurvesConfig, run_compare, run_curves
    from lossgap.analysis.config import Series

    finals = tuple(f"final-{c}-vs-{b}" for b, c in PAIRS)
    for result in (*CURVES, *finals, DISCOVER, *LONG_RESULTS):  # this script's own, made anew
        rd.remove_result(result)
    names = rd.scored_names()
    series = tuple(Series(label=a, seeds=seeds(names, a)) for a in SERIES)
    for reference, result in zip(("hybrid", "transformer"), CURVES, strict=True):
        run_curves(rd, CurvesConfig(series=series, masks=MASKS, reference=reference, name=result))
    step = final_step(names)
    for baseline, candidate in PAIRS:
        sides = [(f"{a}@step{step}", tuple(f"{s}@step{step}" for s in seeds(names, a))) for a in (baseline, candidate)]
        run_compare(rd, CompareConfig(baseline=sides[0][0], baseline_replicates=sides[0][1], candidate=sides[1][0],
                                      candidate_replicates=sides[1][1], name=f"final-{candidate}-vs-{baseline}"))  # fmt: skip
        if (baseline, candidate) == ("transformer", "hybrid"):  # slices found, not predefined: where the lead lives
            from lossgap.analysis.config import DiscoverConfig
            from lossgap.analysis.discover import run_discover

            run_discover(rd, DiscoverConfig(baseline=sides[0][0], baseline_replicates=sides[0][1], candidate=sides[1][0],
                                            candidate_replicates=sides[1][1], name=DISCOVER))  # fmt: skip

    if all(any(n.startswith(f"{a}@") for n in names) for a in LONG):  # the copying regime, where it was run
        last = min(final_step(names, re.escape(a)) for a in LONG)
        run_compare(rd, CompareConfig(baseline=f"{LONG[0]}@step{last}", candidate=f"{LONG[1]}@step{last}",
                                      name=LONG_RESULTS[0]))  # fmt: skip
        run_curves(rd, CurvesConfig(series=tuple(Series(label=a) for a in LONG), masks=MASKS, reference=LONG[0],
                                    name=LONG_RESULTS[1]))  # fmt: skip

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
