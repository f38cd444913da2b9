"""GPU scoring throughput: lossgap's scoring path against the naive one, on full-size 7B configs.

Builds Olmo 3 7B and Olmo Hybrid 7B from their configs with random bf16 weights (the same arithmetic as the
released models, no download), measures the card's bf16 matrix rate in the same run, and scores
(a) fixed 4096-token sequences and (b) a realistic length mix (log-normal, 50 to 16,000 tokens) two ways:

- naive: documents in corpus order, batched up to the token budget and padded to the batch's longest,
  `model(...).logits` for the whole batch, then a float32 log-softmax over all of it;
- lossgap: `lossgap.scoring` as `lossgap score` runs it: windows sorted into length-aware batches under
  the same budget, the trunk's hidden states, and the head + float32 log-softmax in chunks of scored rows.

Prints useful tokens/s (padding excluded), MFU (tokens/s × 2 × parameters ÷ measured matrix rate), peak GPU
memory, and how far the two paths' per-token losses differ. Usage (on the GPU machine):

    python benchmarks/scoring.py --out results.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from lossgap.scoring.loss import CausalLMHead, batch_losses
from lossgap.scoring.windows import Window, plan_batches

VOCAB = 100278  # Olmo 3's tokenizer (dolma2)


def matmul_rate() -> float:
    """bf16 FLOP/s of an 8192³ matrix product, median of 20 timed runs on random data."""
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(20):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * n**3 / float(np.median(times))


def build(arch: str):
    from transformers import AutoModelForCausalLM, Olmo3Config, OlmoHybridConfig

    if arch == "olmo3-7b":
        config = Olmo3Config(vocab_size=VOCAB, max_position_embeddings=65536, pad_token_id=1, eos_token_id=0)
    else:
        config = OlmoHybridConfig()  # its defaults are Olmo Hybrid 7B's
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    return model.eval()


def length_mix(rng: np.random.Generator, total_tokens: int) -> list[int]:
    """Document lengths: log-normal with median ~400 tokens, clipped to [50, 16000]."""
    lengths = []
    while sum(lengths) < total_tokens:
        lengths.append(int(np.clip(rng.lognormal(6.0, 1.3), 50, 16000)))
    return lengths


@torch.inference_mode()
def naive(model, docs: list[np.ndarray], batch_tokens: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    i = 0
    while i < len(docs):
        j = i + 1
        while j < len(docs) and max(len(d) for d in docs[i : j + 1]) * (j + 1 - i) <= batch_tokens:
            j += 1
        batch = docs[i:j]
        width = max(len(d) for d in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for b, d in enumerate(batch):  # left padding: Gated DeltaNet needs it
            ids[b, width - len(d) :] = torch.from_numpy(d)
            mask[b, width - len(d) :] = 1
        ids, mask = ids.cuda(), mask.cuda()
        logits = model(input_ids=ids, attention_mask=mask).logits
        logp = torch.log_softmax(logits.float(), dim=-1)
        token_loss = -logp[:, :-1].gather(2, ids[:, 1:, None]).squeeze(2)
        for b, d in enumerate(batch):
            out.append(token_loss[b, width - len(d) :].cpu().numpy())
        i = j
    return out


def fast(head: CausalLMHead, docs: list[np.ndarray], batch_tokens: int, round_to: int = 1) -> list[np.ndarray]:
    windows = [Window(k, 0, len(d), 1) for k, d in enumerate(docs)]
    out: list[np.ndarray | None] = [None] * len(docs)
    for batch in plan_batches(windows, batch_tokens):
        width = -(-batch.width // round_to) * round_to
        for w, losses in zip(batch.windows, batch_losses(head, docs, batch.windows, width, 1024, torch.device("cuda"))):
            out[w.doc] = losses
    return out  # type: ignore[return-value]


@dataclass
class Row:
    model: str
    workload: str
    path: str
    tokens: int
    seconds: float
    tokens_per_s: float
    mfu: float
    peak_gib: float


def timed(fn, docs, n_params: float, rate: float, **labels) -> tuple[Row, list[np.ndarray]]:
    fn(docs)  # warm-up on the same shapes: kernel compilation and autotuning, amortised over a real corpus
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = fn(docs)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(len(d) for d in docs)
    tps = tokens / seconds
    row = Row(tokens=tokens, seconds=seconds, tokens_per_s=tps, mfu=tps * 2 * n_params / rate,
              peak_gib=torch.cuda.max_memory_allocated() / 2**30, **labels)  # fmt: skip
    return row, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["olmo3-7b", "olmo-hybrid-7b"])
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--fixed-batches", type=int, default=8)
    parser.add_argument("--mix-tokens", type=int, default=160_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    import importlib.util

    rate = matmul_rate()
    print(f"GPU: {torch.cuda.get_device_name()}  bf16 matmul 8192^3: {rate / 1e12:.0f} TFLOP/s  "
          f"flash-linear-attention: {importlib.util.find_spec('fla') is not None}", flush=True)  # fmt: skip
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    diffs: dict[str, dict[str, float]] = {}
    for arch in args.models:
        model = build(arch)
        head = CausalLMHead(model)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{arch}: {n_params / 1e9:.2f}B parameters", flush=True)
        per_row = args.batch_tokens // 4096
        fixed = [rng.integers(0, VOCAB, 4096) for _ in range(args.fixed_batches * per_row)]
        mix = [rng.integers(0, VOCAB, n) for n in length_mix(rng, args.mix_tokens)]
        for workload, docs in (("fixed 4096", fixed), ("length mix", mix)):
            r_naive, out_naive = timed(lambda d: naive(model, d, args.batch_tokens), docs, n_params, rate,
                                       model=arch, workload=workload, path="naive")  # fmt: skip
            r_fast, out_fast = timed(lambda d: fast(head, d, args.batch_tokens), docs, n_params, rate,
                                     model=arch, workload=workload, path="lossgap")  # fmt: skip
            variants = [r_naive, r_fast]
            if workload == "length mix":
                for label, kw in (("lossgap, widths to x128", {"round_to": 128}),
                                  ("lossgap, 64k budget", {"batch_tokens": 65536})):  # fmt: skip
                    kw = {"batch_tokens": args.batch_tokens, **kw}
                    variants.append(timed(lambda d: fast(head, d, **kw), docs, n_params, rate,
                                          model=arch, workload=workload, path=label)[0])  # fmt: skip
            rows += variants
            a, b = np.concatenate(out_naive), np.concatenate(out_fast)
            diffs[f"{arch} {workload}"] = {
                "max_abs": float(np.abs(a - b).max()),
                "mean_rel": float(np.mean(np.abs(a - b) / np.maximum(np.abs(a), 1e-6))),
            }
            for r in variants:
                print(f"  {workload:11s} {r.path:24s} {r.tokens_per_s:9,.0f} tok/s  MFU {r.mfu:5.1%}  "
                      f"peak {r.peak_gib:5.1f} GiB  ({r.tokens:,} tokens, {r.seconds:.1f} s)", flush=True)  # fmt: skip
            print(f"  {workload:11s} lossgap vs naive losses: {diffs[f'{arch} {workload}']}", flush=True)
        del model, head
        torch.cuda.empty_cache()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"gpu": torch.cuda.get_device_name(), "matmul_flops": rate, "rows": [asdict(r) for r in rows],
                       "diffs": diffs}, fh, indent=2)  # fmt: skip


if __name__ == "__main__":
    main()
