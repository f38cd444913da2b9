"""Step 4 of the matched experiment (CPU): curves, comparisons, the report and the documentation's figures from the
committed score tables and training logs.

    python experiments/matched/analyze.py [--run experiments/matched/run] [--logs experiments/matched/results]

Runs, through lossgap's own functions, each as a named result of the one run (`RUN/results/NAME/`, committed with
the experiment; nothing is copied): the curves of the three series against the transformer (`curves`) and
against the hybrid (`curves-ref-hybrid`); the comparisons of the final checkpoints (`final-hybrid-vs-transformer`,
`final-recurrent-vs-hybrid`, `final-recurrent-vs-transformer`: candidate first; the first by name opens the
report); where the transformer was trained at its best learning rate (transformer-lr5e4@stepS), the other two
against it (`final-hybrid-vs-transformer-lr5e4`, `final-recurrent-vs-transformer-lr5e4`, `curves-best-rate`);
where the copying-regime run was scored (ARCH-long@stepS, at least two architectures), its comparisons at the last
step (`long-final-hybrid-vs-transformer`, `long-final-recurrent-vs-transformer`, `long-final-recurrent-vs-hybrid`)
and curves (`curves-long`); the in-loop evaluator's logs
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
# Each architecture at its own best peak learning rate (issue 25; results/lr-sweep.csv): 1e-3 for hybrid and
# recurrent (the series above), 5e-4 for the transformer, trained again with three seeds and scored as
# transformer-lr5e4@stepS (score.py --suffix=-lr5e4, -lr5e4-s1, -lr5e4-s2); compared and followed against it.
BEST_RATE = ("transformer-lr5e4", "hybrid", "recurrent")
BEST_RESULTS = ("curves-best-rate",)
# The copying-regime run (issue 25): size mini, 40M tokens over the training stream 4 times, scored as
# ARCH-long@stepS (other seeds ARCH-long-sN@stepS); the models there compared at the last step all have scored, and
# followed over their checkpoints, against the transformer.
LONG = ("transformer-long", "hybrid-long", "recurrent-long")
LONG_PAIRS = (("transformer-long", "hybrid-long"), ("transformer-long", "recurrent-long"),
              ("hybrid-long", "recurrent-long"))  # fmt: skip
LONG_RESULTS = ("curves-long",)


def result_name(prefix: str, baseline: str, candidate: str) -> str:
    """A final comparison's result name: PREFIX-CANDIDATE-vs-BASELINE, without the copying regime's -long."""
    return f"{prefix}-{candidate.removesuffix('-long')}-vs-{baseline.removesuffix('-long')}"


def final_step(names: list[str], series: str = r"\w+") -> int:
    """The last step scored by `series` (a regular expression; by default any name without a dash: seed 0)."""
    return max(int(m.group(1)) for n in names if (m := re.fullmatch(rf"{series}@step(\d+)", n)))


def seeds(names: list[str], arch: str) -> tuple[str, ...]:
    """The labels of `arch`'s other seeds among the scored names (ARCH-sN@stepS), by seed number."""
    found = {int(m.group(1)) for n in names if (m := re.fullmatch(rf"{re.escape(arch)}-s(\d+)@step\d+", n))}
    return tuple(f"{arch}-s{k}" for k in sorted(found))


def scored(names: list[str], arch: str) -> bool:
    """Whether `arch`'s seed 0 was scored (ARCH@stepS among the names)."""
    return any(re.fullmatch(rf"{re.escape(arch)}@step\d+", n) for n in names)


def sides(names: list[str], arch: str, step: int) -> tuple[str, tuple[str, ...]]:
    """`arch`'s seed 0 at `step` and its other seeds' checkpoints at that step (a comparison's one side)."""
    return f"{arch}@step{step}", tuple(f"{s}@step{step}" for s in seeds(names, arch))


def compare_final(rd, names: list[str], baseline: str, candidate: str, step: int, name: str) -> None:  # type: ignore[no-untyped-def]
    """The comparison of `candidate` with `baseline` at `step`, every seed of one side with every seed of the other."""
    from lossgap.analysis import CompareConfig, run_compare

    (b, b_seeds), (c, c_seeds) = sides(names, baseline, step), sides(names, candidate, step)
    run_compare(rd, CompareConfig(baseline=b, baseline_replicates=b_seeds, candidate=c, candidate_replicates=c_seeds,
                                  name=name))  # fmt: skip


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
    from lossgap.analysis import CurvesConfig, run_curves
    from lossgap.analysis.config import Series

    best_pairs = [(BEST_RATE[0], c) for c in BEST_RATE[1:]]
    finals = [result_name(p, b, c) for p, pairs in (("final", PAIRS), ("final", best_pairs), ("long-final", LONG_PAIRS))
              for b, c in pairs]  # fmt: skip
    for result in (*CURVES, *finals, DISCOVER, *BEST_RESULTS, *LONG_RESULTS):  # this script's own, made anew
        rd.remove_result(result)
    names = rd.scored_names()
    series = tuple(Series(label=a, seeds=seeds(names, a)) for a in SERIES)
    for reference, result in zip(("hybrid", "transformer"), CURVES, strict=True):
        run_curves(rd, CurvesConfig(series=series, masks=MASKS, reference=reference, name=result))
    step = final_step(names)
    for baseline, candidate in PAIRS:
        compare_final(rd, names, baseline, candidate, step, result_name("final", baseline, candidate))
        if (baseline, candidate) == ("transformer", "hybrid"):  # slices found, not predefined: where the lead lives
            from lossgap.analysis.config import DiscoverConfig
            from lossgap.analysis.discover import run_discover

            (b, b_seeds), (c, c_seeds) = sides(names, baseline, step), sides(names, candidate, step)
            run_discover(rd, DiscoverConfig(baseline=b, baseline_replicates=b_seeds, candidate=c,
                                            candidate_replicates=c_seeds, name=DISCOVER))  # fmt: skip

    if scored(names, BEST_RATE[0]):  # each architecture at its best learning rate, where the transformer's was run
        for baseline, candidate in best_pairs:
            compare_final(rd, names, baseline, candidate, step, result_name("final", baseline, candidate))
        best = tuple(Series(label=a, seeds=seeds(names, a)) for a in BEST_RATE)
        run_curves(rd, CurvesConfig(series=best, masks=MASKS, reference=BEST_RATE[0], name=BEST_RESULTS[0]))

    long = [a for a in LONG if scored(names, a)]  # the copying regime, where it was run
    if len(long) >= 2:
        last = min(final_step(names, re.escape(a)) for a in long)
        for baseline, candidate in LONG_PAIRS:
            if baseline in long and candidate in long:
                compare_final(rd, names, baseline, candidate, last, result_name("long-final", baseline, candidate))
        run_curves(rd, CurvesConfig(series=tuple(Series(label=a, seeds=seeds(names, a)) for a in long), masks=MASKS,
                                    reference=long[0], name=LONG_RESULTS[0]))  # fmt: skip

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
