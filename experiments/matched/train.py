"""Step 2 of the matched experiment: train the transformer, hybrid and recurrent models on the same token stream
with a warmup-stable-decay schedule, anneal short decay branches off the stable phase, log lossgap's filtered
losses while training (the in-loop evaluator), and save every annealed checkpoint for `lossgap score`.

    python experiments/matched/train.py --data .matched/data --masks .matched/masks.npz --out /tmp/ckpt \
        [--archs transformer hybrid recurrent] [--size small] [--tokens 12e6]

For each architecture, in --out/ARCH/: `ckpt-S` (an annealed checkpoint branched off the stable phase at step
S: transformers weights + the tokenizer, loadable by `lossgap score`), and `log.jsonl` (one line per logged
step: training loss, learning rate, and at evaluation steps the in-loop filtered losses; branch lines say
which anneal they belong to). --out/summary.json holds sizes, parameter counts, tokens seen, wall time,
tokens/s and MFU per model.

Schedule (all three alike): linear warmup over --warmup of the main steps, constant peak learning rate, and at
each --anneal-at fraction of the main steps a branch that decays the rate linearly to zero over --decay of the
main steps on the stream's next tokens; the main run then resumes from the branch point with the state it had.
The last branch (at 1.0) is the end of the main run.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from models import ARCHS, SIZES, build_config  # noqa: E402
from prepare import read_stream  # noqa: E402


def batches(stream: np.ndarray, batch: int, context: int, start_step: int):  # type: ignore[no-untyped-def]
    """Consecutive [batch, context] blocks of the stream from step `start_step` (the same for every model)."""
    per_step = batch * context
    step = start_step
    while (step + 1) * per_step <= len(stream):
        yield (
            step,
            torch.from_numpy(stream[step * per_step : (step + 1) * per_step].astype(np.int64)).view(batch, context),
        )
        step += 1


def repeat_stream(stream: np.ndarray, passes: int, eos: int, seed: int) -> np.ndarray:
    """The stream `passes` times over: the first pass as it is, each later one with its documents (runs ending in
    the end-of-text token `eos`) in a new order drawn from `seed`."""
    if passes <= 1:
        return stream
    ends = np.flatnonzero(stream == eos) + 1
    if not ends.size or ends[-1] != len(stream):  # a tail without its end-of-text token stays a document
        ends = np.append(ends, len(stream))
    starts = np.concatenate([[0], ends[:-1]])
    rng = np.random.default_rng(seed)
    out = [stream]
    for _ in range(passes - 1):
        order = rng.permutation(len(starts))
        out.append(np.concatenate([stream[starts[i] : ends[i]] for i in order]))
    return np.concatenate(out)


def peak_flops(device: torch.device) -> float:
    """Measured bf16 matrix rate (the MFU denominator), or NaN on the CPU."""
    if device.type != "cuda":
        return float("nan")
    sys.path.insert(0, str(HERE.parents[1] / "benchmarks"))
    from scoring import matmul_rate

    return matmul_rate()


def train_one(arch: str, args: argparse.Namespace, stream: np.ndarray, tokenizer, evaluator, rate: float) -> dict:  # type: ignore[no-untyped-def]
    from transformers import AutoModelForCausalLM

    size = SIZES[args.size]
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
               "pad_token_id": tokenizer.pad_token_id}  # fmt: skip
    config = build_config(arch, size, len(tokenizer), special)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = AutoModelForCausalLM.from_config(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    n_flop_params = n_params - model.get_input_embeddings().weight.numel()  # 6N per token, embeddings a lookup
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1,
                                  fused=device.type == "cuda")  # fmt: skip
    per_step = args.batch * size.context
    main_steps = int(args.tokens // per_step)
    warmup = max(1, round(args.warmup * main_steps))
    decay = max(1, round(args.decay * main_steps))
    branch_at = sorted({max(1, round(f * main_steps)) for f in args.anneal_at})
    if (main_steps + decay) * per_step > len(stream):
        raise SystemExit(f"--tokens {args.tokens:.3g}: the stream holds {len(stream):,} tokens, fewer than the main "
                         f"run and its last decay need ({(main_steps + decay) * per_step:,})")  # fmt: skip
    out = args.out / arch
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.jsonl", "w")
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    trained_tokens, busy = 0, 0.0

    def run_steps(first: int, n: int, lr_at, branch: int | None) -> float:  # type: ignore[no-untyped-def]
        nonlocal trained_tokens, busy
        model.train()
        loss_value = float("nan")
        for k, (step, ids) in enumerate(batches(stream, args.batch, size.context, first)):
            if k == n:
                break
            t0 = time.perf_counter()
            lr = lr_at(k)
            for group in optimizer.param_groups:
                group["lr"] = lr
            ids = ids.to(device, non_blocking=True)
            with autocast:
                loss = model(input_ids=ids, labels=ids, use_cache=False).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            trained_tokens += ids.numel()
            if k % args.log_every == 0 or k == n - 1:
                loss_value = float(loss.detach())  # a sync, only on logged steps
                row = {"step": step + 1, "lr": lr, "loss": loss_value, "tokens": trained_tokens}
                if branch is not None:
                    row["branch"] = branch
                log.write(json.dumps(row) + "\n")
            if device.type == "cuda" and k % args.log_every == 0:
                torch.cuda.synchronize()
            busy += time.perf_counter() - t0
            if branch is None and (step + 1) % args.eval_every == 0:
                evaluate(step + 1, None)
        return loss_value

    def evaluate(step: int, branch: int | None) -> None:
        if evaluator is None:
            return
        with autocast:
            row = {"step": step, **evaluator(model)}
        if branch is not None:
            row["branch"] = branch
        log.write(json.dumps(row) + "\n")
        log.flush()

    start = time.perf_counter()
    done = 0
    checkpoints = []
    for b in branch_at:
        run_steps(done, b - done, lambda k, s=done: args.lr * min(1.0, (s + k + 1) / warmup), None)
        done = b
        saved = None if b == main_steps else (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))
        run_steps(b, decay, lambda k: args.lr * (1 - (k + 1) / decay), b)
        evaluate(b + decay, b)
        folder = out / f"ckpt-{b}"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        checkpoints.append({"branch_at": b, "tokens_at_branch": b * per_step, "tokens_seen": (b + decay) * per_step,
                            "folder": str(folder)})  # fmt: skip
        if saved is not None:
            model.load_state_dict(saved[0])
            optimizer.load_state_dict(saved[1])
            del saved
    wall = time.perf_counter() - start
    log.close()
    tps = trained_tokens / busy
    return {"arch": arch, "class": type(model).__name__, "layer_types": getattr(config, "layer_types", None),
            "parameters": n_params, "non_embedding_parameters": n_flop_params, "main_steps": main_steps,
            "warmup_steps": warmup, "decay_steps": decay, "batch": args.batch, "context": size.context,
            "tokens_trained": trained_tokens, "wall_s": wall, "train_s": busy, "tokens_per_s": tps,
            "mfu": 6 * n_flop_params * tps / rate, "checkpoints": checkpoints}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="prepare.py's output folder")
    parser.add_argument("--masks", type=Path, default=None, help="masks file for the in-loop evaluator (lossgap masks)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--archs", nargs="+", choices=ARCHS, default=list(ARCHS))
    parser.add_argument("--size", choices=tuple(SIZES), default="small")
    parser.add_argument("--tokens", type=float, default=12e6, help="tokens of the main run (warmup + stable)")
    parser.add_argument("--batch", type=int, default=32, help="sequences a step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=float, default=0.05, help="fraction of the main steps")
    parser.add_argument(
        "--decay", type=float, default=0.1, help="length of an anneal branch, fraction of the main steps"
    )
    parser.add_argument("--anneal-at", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--eval-every", type=int, default=50, help="in-loop evaluation every N main steps")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--passes", type=int, default=1,
                        help="passes over the training stream (each after the first in a new document order)")  # fmt: skip
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from lossgap.inloop import Evaluator

    tokenizer = AutoTokenizer.from_pretrained(args.data / "tokenizer")
    stream = repeat_stream(read_stream(args.data), args.passes, tokenizer.eos_token_id, args.seed)
    evaluator = None if args.masks is None else Evaluator.from_file(args.masks, max_length=SIZES[args.size].context)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
    rate = peak_flops(torch.device(args.device))
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"size": vars(SIZES[args.size]), "matmul_flops": rate,
               "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
               "torch": torch.__version__, "args": {k: str(v) for k, v in vars(args).items()}, "models": []}  # fmt: skip
    for arch in args.archs:
        result = train_one(arch, args, stream, tokenizer, evaluator, rate)
        summary["models"].append(result)
        print(f"{arch:11s} {result['parameters'] / 1e6:6.1f}M params  {result['tokens_trained']:,} tokens  "
              f"{result['tokens_per_s']:,.0f} tok/s  MFU {result['mfu']:.1%}  wall {result['wall_s']:.0f} s", flush=True)  # fmt: skip
        (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")  # after each model
        if math.isnan(result["tokens_per_s"]):
            raise SystemExit(f"{arch}: no step ran")


if __name__ == "__main__":
    main()
