"""Wall time and peak memory of `lossgap annotate` with 1 and N worker processes, on real text at scale.

The run is the matched experiment's held-out corpus and its tokens (`experiments/matched/run`: 257 documents,
298,426 tokens of books, documentation, FOLDOC, HTML, LaTeX, Python and statistics papers), copied --copies times
under new document ids, so the text is real and the size chosen. Each annotate runs in a child process, its
memory sampled from outside (`measure.run_measured`): the peak resident set of any one process (the child or a
worker) and of all of them together. Usage:

    PYTHONPATH=src python benchmarks/annotate_scale.py --copies 34 --workers 1 2 [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from lossgap.rundir import RunDir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "experiments/matched/run"

_CHILD = """
import logging, sys
logging.basicConfig(level=logging.WARNING)
from lossgap.features import AnnotateConfig, run_annotate
run_annotate(sys.argv[1], AnnotateConfig(workers=int(sys.argv[2])))
"""


def build(path: Path, copies: int) -> int:
    """The source run's corpus and tokens, `copies` times over; returns the token count."""
    source = RunDir(SOURCE)
    corpus, tokens = source.read("corpus"), source.read("tokens")
    run = RunDir(path)
    path.mkdir(parents=True, exist_ok=True)

    def copied(table: pa.Table, k: int) -> pa.Table:
        ids = pc.binary_join_element_wise(table.column("doc_id"), pa.scalar(f"copy{k}"), "#")
        return table.set_column(table.column_names.index("doc_id"), "doc_id", ids)

    run.write("corpus", pa.concat_tables([copied(corpus, k) for k in range(copies)]))
    run.write("tokens", pa.concat_tables([copied(tokens, k) for k in range(copies)]))
    return tokens.num_rows * copies


def measure(path: Path, workers: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    row = run_measured([sys.executable, "-c", _CHILD, str(path), str(workers)], env=env)
    row.pop("stdout")
    return {"workers": workers, **row}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=34)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--run", type=Path, default=Path("/tmp/lossgap-bench-annotate"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    n = build(args.run, args.copies)
    print(f"run: {n:,} tokens ({args.copies} copies of {SOURCE.relative_to(ROOT)}); "
          f"machine: {platform.platform()}, {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    rows = []
    for workers in args.workers:
        row = measure(args.run, workers)
        row["tokens_per_s"] = n / row["wall_s"]
        rows.append(row)
        print(f"workers {workers}: {row['wall_s']:.1f} s wall (child process, imports included), "
              f"{row['tokens_per_s']:,.0f} tokens/s, peak RSS {row['peak_rss_mib']:,.0f} MiB one process, "
              f"{row['peak_rss_sum_mib']:,.0f} MiB all", flush=True)  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"tokens": n, "copies": args.copies, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
