"""Optional step of the matched experiment: a training stream with probe documents mixed into the natural text.

Trained on natural text alone (13.9M tokens), none of the trio copies, recalls or tracks in context: their loss on
the second copy of a random string equals their loss on the first (docs/experiments/matched.md, "Probes"). The
abilities the probes test are learned from data that rewards them, as in the literature the probes reproduce
(Jelassi et al. 2024 trained on copying; Zoology on associative recall). This writes a data folder in the format
of prepare.py whose stream interleaves `lossgap probes` documents (another seed than the evaluation probes, wider
levels) with the natural documents at random document boundaries:

    python experiments/matched/probe_mix.py --data .matched/data --out .matched/mixed [--fraction 0.2] \
        [--tokens 11.5e6] [--probes copy recall] [--docs 1000]

--fraction is the share of the written stream's tokens that are probe documents; --tokens cuts the stream (the
training run reads only its start); --probes mixes in only the probes named (by default copy, recall, tracking,
pronoun and brackets; tracking_swap only when named); --docs is the
number of distinct documents per probe and level, drawn again in a new order when the share needs more.
MANIFEST.json records the probes, levels, seed, documents and tokens.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from prepare import read_stream, write_parts  # noqa: E402

# Training levels: around and beyond the evaluation run's (experiments/matched/probes-run), whose seed is 0.
LEVELS = {"copy": (4, 8, 16, 32, 64, 128), "recall": (4, 8, 16, 32, 64), "tracking": (1, 2, 4, 8, 16),
          "pronoun": (0, 2, 4, 8, 16), "brackets": (2, 3, 4, 6, 8), "tracking_swap": (1, 2, 4, 8, 16)}  # fmt: skip
SEED = 1
DEFAULT = ("copy", "recall", "tracking", "pronoun", "brackets")  # the probes-mix run's five; tracking_swap when named


def probe_ids(tokenizer, docs: int, probes: tuple[str, ...] = DEFAULT) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """Token ids (uint16) of `docs` documents per probe and level of `probes`, each followed by the end-of-text id."""
    from lossgap.probes import ProbesConfig
    from lossgap.probes.run import generate_probes

    config = ProbesConfig(probes=probes, docs=docs, seed=SEED, levels={p: LEVELS[p] for p in probes})
    texts = [d.text for _, _, d in generate_probes(config)]
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [np.array([*x, tokenizer.eos_token_id], dtype=np.uint16) for x in ids]


def mix(natural: np.ndarray, probes: list[np.ndarray], eos: int, fraction: float, tokens: int,
        rng: np.random.Generator) -> tuple[np.ndarray, int, int]:  # fmt: skip
    """Natural documents (split after each end-of-text id) interleaved with probe documents drawn at random, so
    that about `fraction` of the first `tokens` tokens are probe tokens: (stream, probe documents, probe tokens)."""
    ends = np.flatnonzero(natural == eos) + 1
    natural_docs = np.split(natural[: ends[-1]], ends[:-1])
    pieces: list[np.ndarray] = []
    from_probes: list[bool] = []
    order = rng.permutation(len(probes))
    probe_tokens = total = drawn = 0
    for doc in natural_docs:
        while total and probe_tokens < fraction * total:  # probe documents until the share is reached again
            pieces.append(probes[order[drawn % len(order)]])  # cycles when more are needed than given
            from_probes.append(True)
            drawn += 1
            probe_tokens, total = probe_tokens + len(pieces[-1]), total + len(pieces[-1])
        pieces.append(doc)
        from_probes.append(False)
        total += len(doc)
        if total >= tokens:
            break
    if total < tokens:
        raise SystemExit(f"the natural stream holds too few tokens for --tokens {tokens:,} at --fraction {fraction}")
    # what the cut at `tokens` keeps of the probe documents (the last piece may be cut)
    starts = np.cumsum([0] + [len(p) for p in pieces[:-1]])
    kept = [
        (int(min(len(p), tokens - s)), flag)
        for p, s, flag in zip(pieces, starts, from_probes, strict=True)
        if s < tokens
    ]
    n_docs = sum(1 for _, flag in kept if flag)
    n_tokens = sum(n for n, flag in kept if flag)
    return np.concatenate(pieces)[:tokens], n_docs, n_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="prepare.py's output folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.2, help="share of probe tokens in the stream")
    parser.add_argument("--tokens", type=float, default=11.5e6, help="tokens of the written stream")
    parser.add_argument("--docs", type=int, default=1000, help="documents per probe and level to draw from")
    parser.add_argument(
        "--probes",
        nargs="+",
        choices=tuple(LEVELS),
        default=list(DEFAULT),
        help="the probes to mix in (default: all but tracking_swap)",
    )
    parser.add_argument("--parts", type=int, default=2)
    args = parser.parse_args()
    if not 0 < args.fraction < 1:
        raise SystemExit(f"--fraction {args.fraction}: give a share between 0 and 1")

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.data / "tokenizer")
    chosen = tuple(dict.fromkeys(args.probes))  # in the order given, once each
    probes = probe_ids(tokenizer, args.docs, chosen)
    stream, n_docs, n_tokens = mix(read_stream(args.data), probes, tokenizer.eos_token_id, args.fraction,
                                   int(args.tokens), np.random.default_rng(SEED))  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.data / "tokenizer", args.out / "tokenizer", dirs_exist_ok=True)
    manifest = json.loads((args.data / "MANIFEST.json").read_text())
    manifest.update({
        "built_by": "experiments/matched/probe_mix.py", "natural_from": str(args.data), "train_tokens": int(len(stream)),
        "train_parts": write_parts(stream, args.out, args.parts),
        "probe_mix": {"seed": SEED, "levels": {p: LEVELS[p] for p in chosen},
                      "fraction": args.fraction, "docs_per_level": args.docs, "probe_docs": n_docs, "probe_tokens": n_tokens},
    })  # fmt: skip
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(stream):,} tokens, {n_tokens:,} of them in {n_docs:,} probe documents "
          f"({n_tokens / len(stream):.1%}) -> {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
