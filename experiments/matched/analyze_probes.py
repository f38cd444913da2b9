"""The matched experiment's probes (CPU): comparisons, the copying check and the report from committed score tables.

    python experiments/matched/analyze_probes.py [--runs experiments/matched/probes-run ...] \
        [--out experiments/matched/results] [--figures docs/experiments]

For each probe run (`lossgap probes` documents scored by score.py; docs/experiments/matched.md, "Probes"):

- `lossgap compare` of the final checkpoints, every pair of the three series; the `probe+probe_level` rows of
  each categories.csv (both models' loss on the marked tokens, the gap and its interval) go to
  --out/probes-RUN.csv with the pair's names;
- the copying check, --out/probes-copy-RUN.csv: per model and string length, the mean loss on the tokens of the
  first copy and on the marked tokens of the second (both without their first token). A model that copies
  predicts the second copy far better than the first; equal losses mean it does not copy at all;
- where the run holds several checkpoints of each series, `lossgap curves` with one mask per probe (its marked
  tokens), and the report, whose probe figure is saved as --figures/matched-probes.png.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from analyze import PAIRS, SERIES, final_step
from score import lossgap  # this folder's step 3: `lossgap` commands in-process

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RUNS = (HERE / "probes-run", HERE / "probes-mix-run")


def copy_check(run: Path, names: list[str]) -> pd.DataFrame:
    """Per model and copy level: tokens and mean loss of the first copy and of the second (the marked tokens).

    The first copy's tokens are those whose first visible (not white-space) character lies in the mark's source
    span, as the marks are placed (`lossgap.features.probes`); its first token is left out as the mark leaves out
    the second copy's first token (neither can be predicted)."""
    import duckdb

    from lossgap.rundir import RunDir

    rd, con = RunDir(run), duckdb.connect()
    for table, view in (("tokens", "tokens"), ("features", "features"), ("probes", "marks"), ("corpus", "corpus")):
        rd.view(con, table, view)
    frames = []
    for name in names:
        rd.view(con, f"scores/{name}", "scores")
        frames.append(con.sql(f"""
            WITH tok AS (
                SELECT t.doc_id, t.pos, s.loss, f.probe_mark, m.level, m.src_start, m.src_end,
                       substr(c.text, t.char_start + 1, t.char_end - t.char_start) AS piece,
                       ltrim(piece, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) AS rest,
                       -- the first visible character: the token's start moved past leading white space
                       t.char_start + length(piece) - length(rest) AS first
                FROM tokens t JOIN scores s USING (doc_id, pos) JOIN features f USING (doc_id, pos)
                JOIN marks m ON m.doc_id = t.doc_id AND m.probe = 'copy' JOIN corpus c ON c.doc_id = t.doc_id
            ), source AS (
                SELECT *, row_number() OVER (PARTITION BY doc_id ORDER BY pos) AS k FROM tok
                WHERE length(rest) > 0 AND first >= src_start AND first < src_end  -- not all white space
            )
            SELECT '{name}' AS model, level,
                   (SELECT count(*) FROM source s WHERE s.level = l.level AND k > 1) AS n_first,
                   (SELECT avg(loss) FROM source s WHERE s.level = l.level AND k > 1) AS loss_first,
                   count(*) AS n_second, avg(loss) AS loss_second
            FROM tok l WHERE probe_mark GROUP BY level ORDER BY level
        """).df())  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out["second_minus_first"] = out["loss_second"] - out["loss_first"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, nargs="+", default=list(RUNS))
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--figures", type=Path, default=ROOT / "docs/experiments")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        step = final_step(run)
        finals = [f"{s}@step{step}" for s in SERIES]
        rows = []
        for baseline, candidate in PAIRS:
            b, c = f"{baseline}@step{step}", f"{candidate}@step{step}"
            lossgap("compare", "--run", str(run), "--baseline", b, "--candidate", c)
            table = pd.read_csv(run / "results/categories.csv")
            rows.append(table[table["feature"] == "probe+probe_level"].assign(baseline=b, candidate=c))
        pd.concat(rows).to_csv(args.out / f"probes-{run.name}.csv", index=False)
        copy_check(run, finals).to_csv(args.out / f"probes-copy-{run.name}.csv", index=False)
        steps = {p.stem for p in (run / "scores").glob("*@step*.parquet")}
        if len(steps) > len(SERIES):  # a series of checkpoints: curves of each probe's marked tokens, the report
            masks = [a for p in ("copy", "recall", "tracking", "pronoun", "brackets")
                     for a in ("--mask", f"probe = '{p}' AND probe_mark")]  # fmt: skip
            series = [a for s in SERIES for a in ("--series", s)]
            lossgap("curves", "--run", str(run), *series, *masks, "--reference", "transformer")
            for name in ("curves.csv", "curves_diff.csv"):
                (args.out / f"probes-{name}").write_bytes((run / "results" / name).read_bytes())
            lossgap("compare", "--run", str(run), "--baseline", finals[0], "--candidate", finals[2])
            lossgap("report", "--run", str(run))
            import matplotlib

            matplotlib.use("Agg")
            from lossgap.report.figures import draw_figures
            from lossgap.report.load import read_results
            from lossgap.rundir import RunDir

            args.figures.mkdir(parents=True, exist_ok=True)
            for drawn in draw_figures(read_results(RunDir(run))):
                if drawn.key == "probes":
                    drawn.figure.savefig(args.figures / "matched-probes.png", dpi=110, bbox_inches="tight")
    print(f"tables: {args.out}/probes-*.csv")


if __name__ == "__main__":
    main()
