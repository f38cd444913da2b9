"""Step 3 of the matched experiment: score every annealed checkpoint with `lossgap score` on the held-out corpus.

    python experiments/matched/score.py --ckpt /tmp/ckpt --run .matched/run [--device cuda] [--suffix -s1]
        [--steps 305] [--dtype float32]

--run is the run directory of the evaluation corpus (made by `lossgap tokenize` with the experiment's
tokenizer; see docs/experiments/matched.md). Each --ckpt/ARCH/ckpt-S (train.py's output) is scored as
ARCH{SUFFIX}@stepS, S being the main-run step its anneal branched at, so that `lossgap curves --series ARCH`
(or `ARCH-s1` for a seed's checkpoints, `--suffix -s1`) finds the checkpoints in order. --steps scores only
those steps; --dtype is passed to `lossgap score` (float32 for the precision reference). Scored names are
skipped when complete, as `lossgap score` does. The checkpoints' tokenizer must tokenize the run's corpus as the
run's tokens record (prepare.py rebuilt from other Debian package versions trains another tokenizer, whose scores
would join the run as a second tokenization, not comparable token by token): otherwise score.py stops first.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def checkpoints(ckpt: Path, suffix: str = "", steps: set[int] | None = None) -> list[tuple[str, Path]]:
    """(score name, checkpoint folder) of every ARCH/ckpt-S under `ckpt` (those of `steps` if given), by
    architecture then step."""
    found = []
    for arch in sorted(p for p in ckpt.iterdir() if p.is_dir()):
        for folder in sorted(arch.glob("ckpt-*"), key=lambda p: int(p.name.removeprefix("ckpt-"))):
            step = int(folder.name.removeprefix("ckpt-"))
            if steps is None or step in steps:
                found.append((f"{arch.name}{suffix}@step{step}", folder))
    if not found:
        raise SystemExit(f"{ckpt}: no ARCH/ckpt-S folders (train.py's output)"
                         + (f" at steps {sorted(steps)}" if steps else ""))  # fmt: skip
    return found


def check_tokenizer(folder: Path, run: Path) -> None:
    """Stop unless `folder`'s tokenizer gives the run's corpus the tokens of a tokenization the run records."""
    from transformers import AutoTokenizer

    from lossgap.rundir import RunDir
    from lossgap.scoring.tokenize import prefix_policy, tokenize_documents, tokens_fingerprint

    rd = RunDir(run)
    manifest = rd.manifest()
    known = [r.fingerprint for r in (manifest.tokenizer, *manifest.tokenizers.values()) if r is not None]
    if not known:
        return  # the run's first tokenization is made by the first scoring
    tokenizer = AutoTokenizer.from_pretrained(folder)
    corpus = rd.read("corpus", ["doc_id", "text"])
    tokens = tokenize_documents(tokenizer, corpus.column("doc_id").to_pylist(), corpus.column("text").to_pylist(),
                                prefix_policy(tokenizer))  # fmt: skip
    if tokens_fingerprint(tokens) not in known:
        raise SystemExit(f"{folder}: its tokenizer tokenizes {run}'s corpus unlike the run's tokens (another "
                         "tokenizer: was prepare.py run with other Debian package versions? see MANIFEST.json)")  # fmt: skip


def lossgap(*argv: str) -> None:
    """A `lossgap` command in this process (no interpreter start per checkpoint); non-zero exits propagate."""
    from lossgap.cli import app

    try:
        app(list(argv), standalone_mode=False)
    except SystemExit as exc:  # lossgap's commands exit non-zero on bad input
        if exc.code:
            raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True, help="train.py's --out")
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--suffix", default="", help="added to each architecture's name, e.g. -s1 for seed 1")
    parser.add_argument("--steps", type=int, nargs="+", default=None, help="score only these steps")
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()

    found = checkpoints(args.ckpt, args.suffix, set(args.steps) if args.steps else None)
    check_tokenizer(found[0][1], args.run)
    for name, folder in found:
        lossgap("score", str(folder), "--run", str(args.run), "--name", name, "--device", args.device,
                "--dtype", args.dtype, *(["--compile"] if args.compile else []))  # fmt: skip


if __name__ == "__main__":
    main()
