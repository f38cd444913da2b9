"""Step 3 of the matched experiment: score every annealed checkpoint with `lossgap score` on the held-out corpus.

    python experiments/matched/score.py --ckpt /tmp/ckpt --run .matched/run [--device cuda]

--run is the run directory of the evaluation corpus (made by `lossgap tokenize` with the experiment's
tokenizer; see docs/experiments/matched.md). Each --ckpt/ARCH/ckpt-S (train.py's output) is scored as
ARCH@stepS, S being the main-run step its anneal branched at, so that `lossgap curves --series ARCH` finds the
checkpoints in order. Scored names are skipped when complete, as `lossgap score` does.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def checkpoints(ckpt: Path) -> list[tuple[str, Path]]:
    """(score name, checkpoint folder) of every ARCH/ckpt-S under `ckpt`, by architecture then step."""
    found = []
    for arch in sorted(p for p in ckpt.iterdir() if p.is_dir()):
        for folder in sorted(arch.glob("ckpt-*"), key=lambda p: int(p.name.removeprefix("ckpt-"))):
            found.append((f"{arch.name}@step{folder.name.removeprefix('ckpt-')}", folder))
    if not found:
        raise SystemExit(f"{ckpt}: no ARCH/ckpt-S folders (train.py's output)")
    return found


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
    args = parser.parse_args()

    for name, folder in checkpoints(args.ckpt):
        lossgap("score", str(folder), "--run", str(args.run), "--name", name, "--device", args.device,
                *(["--compile"] if args.compile else []))  # fmt: skip


if __name__ == "__main__":
    main()
