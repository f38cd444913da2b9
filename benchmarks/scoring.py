"""GPU scoring throughput: lossgap's scoring path against the naive one, on full-size 7B configs.

Builds Olmo 3 7B and Olmo Hybrid 7B from their configs with random bf16 weights (the same arithmetic as the
released models, no download), measures the card's bf16 matrix rate in the same run, and scores
(a) fixed 4096-token sequences and (b) a realistic length mix (log-normal, 50 to 16,000 tokens):

- naive: documents in corpus order, batched up to the token budget and padded to the batch's longest,
  `model(...).logits` for the whole batch (transformers' SDPA attention), then a float32 log-softmax over all;
- lossgap: `lossgap.scoring` as `lossgap score` runs it: windows sorted into length-aware batches under
  the same budget, the trunk's hidden states, and the head + float32 log-softmax in chunks of scored rows;
  timed with transformers' SDPA attention, with lossgap's varlen attention (`scoring.attention`) on
  left-padded rows, with varlen attention and `--compile` (`CausalLMHead.compile`), and packed: windows
  one after another in one row of segments, Olmo Hybrid's Gated DeltaNet on fla's fused forward
  (`scoring.hybrid`), which is what `lossgap score` uses on CUDA; with `--compile`, and with `--float32-head`.

Prints useful tokens/s (padding excluded), MFU (tokens/s × 2 × parameters ÷ measured matrix rate; `mfu_attention`
in the JSON also counts attention's two matrix products, as PaLM's MFU does, `attention_flops`), peak GPU memory, and how far the paths' per-token losses differ. Usage (on the GPU machine):

    python benchmarks/scoring.py --out results.json

Scale-out (issue 7 item 4): each rank builds the model on cuda:LOCAL_RANK, scores its token-balanced shard
(`shard_documents`) of the same length mix, and rank 0 prints aggregate tokens/s between barriers, the token
and time balance across ranks, and (with --baseline) the speed-up over a run with fewer processes:

    torchrun --standalone --nproc-per-node 1 benchmarks/scoring.py --mode scale-out --models olmo-hybrid-7b \
        --mix-tokens 400000 --out k1.json
    torchrun --standalone --nproc-per-node 2 benchmarks/scoring.py --mode scale-out --models olmo-hybrid-7b \
        --mix-tokens 400000 --out k2.json --baseline k1.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from lossgap.rundir import Window
from lossgap.scoring.attention import use_varlen_attention
from lossgap.scoring.batches import plan_batches, plan_packed_batches
from lossgap.scoring.hybrid import use_fast_gated_deltanet
from lossgap.scoring.loss import CausalLMHead, TokenStats, batch_scores
from lossgap.scoring.models import packing_possible

VOCAB = 100278  # Olmo 3's tokenizer (dolma2)
# (label, attention, compiled trunk, packed, float32 head, per-token stats): the naive path, then lossgap's with
# transformers' SDPA attention, with its varlen attention on padded rows, packed (what `lossgap score` uses on
# CUDA), then the compiled ones (compiling changes the model's layers for good, so they come last): padded, packed,
# packed with `--float32-head`, and packed recording entropy and rank (`lossgap score`'s default) and the top 16.
LOSS, STATS, TOP16 = TokenStats(), TokenStats(distribution=True), TokenStats(distribution=True, top_k=16)
PATHS = [("naive", "sdpa", False, False, False, LOSS), ("lossgap, SDPA attention", "sdpa", False, False, False, LOSS),
         ("lossgap padded", "varlen", False, False, False, LOSS), ("lossgap packed", "varlen", False, True, False, LOSS),
         ("lossgap padded --compile", "varlen", True, False, False, LOSS),
         ("lossgap packed --compile", "varlen", True, True, False, LOSS),
         ("lossgap packed --compile --float32-head", "varlen", True, True, True, LOSS),
         ("lossgap packed --compile +entropy,rank", "varlen", True, True, False, STATS),
         ("lossgap packed --compile +entropy,rank,top-16", "varlen", True, True, False, TOP16)]  # fmt: skip


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


def build(arch: str, device: torch.device | str = "cuda"):
    from transformers import AutoModelForCausalLM, Olmo3Config, OlmoHybridConfig

    if arch == "olmo3-7b":
        config = Olmo3Config(vocab_size=VOCAB, max_position_embeddings=65536, pad_token_id=1, eos_token_id=0)
    else:
        config = OlmoHybridConfig()  # its defaults are Olmo Hybrid 7B's
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    return model.eval()


def attention_flops(config, lengths: list[int]) -> float:  # type: ignore[no-untyped-def]
    """Forward FLOPs of attention's score and value products (QKᵀ, then the weights times V) over documents of
    `lengths`: 2 × 2 × heads × head_dim for each (query, key) pair a layer attends, causal and within the layer's
    sliding window (a query attends min(its position + 1, window) keys). `2 × parameters` a token leaves them out;
    layers without attention (`linear_attention`) have none."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    pairs = 0
    for kind in config.layer_types:
        if kind not in ("full_attention", "sliding_attention"):
            continue
        window = config.sliding_window if kind == "sliding_attention" else None
        for n in lengths:
            w = n if window is None else min(window, n)
            pairs += w * (w + 1) // 2 + (n - w) * w  # the first w queries see 1..w keys, the rest w each
    return 4.0 * heads * head_dim * pairs


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


def fast(
    head: CausalLMHead,
    docs: list[np.ndarray],
    batch_tokens: int,
    round_to: int = 1,
    device: str = "cuda",
    stats: TokenStats = LOSS,
) -> list[np.ndarray]:
    """Each document's losses, scored as `lossgap score` does (with `stats` computed beside them and dropped)."""
    windows = [Window(k, 0, len(d), 1) for k, d in enumerate(docs)]
    out: list[np.ndarray | None] = [None] * len(docs)
    plan = plan_packed_batches if head.packed else plan_batches
    for batch in plan(windows, batch_tokens):
        width = -(-batch.width // round_to) * round_to
        scores = batch_scores(head, docs, batch.windows, width, 1024, torch.device(device), stats=stats)
        for w, got in zip(batch.windows, scores, strict=True):
            out[w.doc] = got["loss"]
    return out  # type: ignore[return-value]


@dataclass
class Row:
    model: str
    workload: str
    path: str
    tokens: int
    seconds: float
    warmup_seconds: float
    tokens_per_s: float
    mfu: float
    mfu_attention: float  # with attention's FLOPs counted (attention_flops)
    peak_gib: float


def timed(fn, docs, n_params: float, rate: float, attention: float = 0.0, **labels) -> tuple[Row, list[np.ndarray]]:
    t0 = time.perf_counter()
    fn(docs)  # warm-up on the same shapes: kernel compilation and autotuning, amortised over a real corpus
    torch.cuda.synchronize()
    warmup = time.perf_counter() - t0
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out = fn(docs)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(len(d) for d in docs)
    tps = tokens / seconds
    row = Row(tokens=tokens, seconds=seconds, warmup_seconds=warmup, tokens_per_s=tps, mfu=tps * 2 * n_params / rate,
              mfu_attention=(tokens * 2 * n_params + attention) / seconds / rate,
              peak_gib=torch.cuda.max_memory_allocated() / 2**30, **labels)  # fmt: skip
    return row, out


def _rank_timed(fn, ranks, device: torch.device) -> tuple[float, float, list[np.ndarray]]:
    """Warm up, then time fn() between two barriers: (seconds between barriers, this rank's busy seconds, out)."""
    fn()  # warm-up on this rank's own shapes (kernel compilation, autotuning)
    torch.cuda.synchronize(device)
    ranks.barrier()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize(device)
    busy = time.perf_counter() - t0
    ranks.barrier()
    return time.perf_counter() - t0, busy, out


def scale_out(args: argparse.Namespace) -> None:
    """Under torchrun: each rank scores its token-balanced shard of the length mix on its own GPU."""
    from lossgap.scoring.distributed import init_ranks, shard_documents

    ranks = init_ranks("cuda")
    device = torch.device(f"cuda:{ranks.local_rank}")
    torch.cuda.set_device(device)
    rng = np.random.default_rng(args.seed)  # every rank (and every K) draws the same documents
    docs = [rng.integers(0, VOCAB, n) for n in length_mix(rng, args.mix_tokens)]
    shard = shard_documents(np.array([len(d) for d in docs]), ranks.world_size)[ranks.rank]
    mine = [docs[i] for i in shard]
    rate = matmul_rate() if ranks.is_main else 0.0
    if ranks.is_main:
        print(f"scale-out: {ranks.world_size} process(es) x {torch.cuda.get_device_name()}  bf16 matmul "
              f"{rate / 1e12:.0f} TFLOP/s  {len(docs)} documents, {sum(map(len, docs)):,} tokens", flush=True)  # fmt: skip
    results = {}
    for arch in args.models:
        model = build(arch, device)
        if use_varlen_attention(model):  # as `lossgap score` does
            use_fast_gated_deltanet(model)
        head = CausalLMHead(model)
        head.packed = packing_possible(model)
        if args.compile:
            head.compile()
        n_params = sum(p.numel() for p in model.parameters())
        seconds, busy, out = _rank_timed(
            lambda h=head: fast(h, mine, args.batch_tokens, device=str(device)), ranks, device
        )
        mine_stats = {"rank": ranks.rank, "docs": len(mine), "tokens": int(sum(map(len, mine))), "busy_s": busy,
                      "peak_gib": torch.cuda.max_memory_allocated(device) / 2**30,
                      "doc_mean_loss": {int(i): float(x.mean()) for i, x in zip(shard, out, strict=True)}}  # fmt: skip
        if ranks.world_size > 1:
            import torch.distributed as dist

            gathered: list = [None] * ranks.world_size
            dist.all_gather_object(gathered, mine_stats)
        else:
            gathered = [mine_stats]
        if ranks.is_main:
            tokens = sum(g["tokens"] for g in gathered)
            tps = tokens / seconds
            per_rank_tokens = [g["tokens"] for g in gathered]
            per_rank_busy = [g["busy_s"] for g in gathered]
            doc_loss = {k: v for g in gathered for k, v in g["doc_mean_loss"].items()}
            row = {"model": arch, "world_size": ranks.world_size, "tokens": tokens, "seconds": seconds,
                   "tokens_per_s": tps, "mfu_per_gpu": tps * 2 * n_params / rate / ranks.world_size,
                   "rank_tokens": per_rank_tokens, "rank_busy_s": per_rank_busy,
                   "token_balance_max_over_mean": max(per_rank_tokens) / np.mean(per_rank_tokens),
                   "time_balance_max_over_mean": max(per_rank_busy) / np.mean(per_rank_busy),
                   "peak_gib": [g["peak_gib"] for g in gathered], "doc_mean_loss": doc_loss}  # fmt: skip
            results[arch] = row
            print(f"  {arch:15s} K={ranks.world_size}  {tps:9,.0f} tok/s  MFU/GPU {row['mfu_per_gpu']:5.1%}  "
                  f"({tokens:,} tokens, {seconds:.1f} s between barriers)  rank tokens {per_rank_tokens} "
                  f"(max/mean {row['token_balance_max_over_mean']:.4f})  rank busy s "
                  f"{[round(b, 2) for b in per_rank_busy]} (max/mean {row['time_balance_max_over_mean']:.3f})",
                  flush=True)  # fmt: skip
            if args.baseline:
                base = json.load(open(args.baseline))["scale_out"].get(arch)
                if base:
                    common = set(base["doc_mean_loss"]) & {str(k) for k in doc_loss}
                    diff = max(abs(base["doc_mean_loss"][k] - doc_loss[int(k)]) for k in common)
                    print(f"  {arch:15s} speed-up K={ranks.world_size} vs K={base['world_size']}: "
                          f"{tps / base['tokens_per_s']:.3f}x  ({base['tokens_per_s']:,.0f} -> {tps:,.0f} tok/s); "
                          f"per-document mean loss, max |difference| vs K={base['world_size']}: {diff:.2e} "
                          f"over {len(common)} documents", flush=True)  # fmt: skip
        if ranks.is_main and args.out:  # after each model, so that a run cut short keeps what it measured
            with open(args.out, "w") as fh:
                json.dump({"gpu": torch.cuda.get_device_name(), "matmul_flops": rate, "scale_out": results}, fh,
                          indent=2)  # fmt: skip
        del model, head, out
        torch.cuda.empty_cache()
    if ranks.world_size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["olmo3-7b", "olmo-hybrid-7b"])
    parser.add_argument("--batch-tokens", type=int, default=16384)
    parser.add_argument("--fixed-batches", type=int, default=8)
    parser.add_argument("--mix-tokens", type=int, default=160_000)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--mode",
        choices=("compare", "scale-out"),
        default="compare",
        help="compare: lossgap vs naive (default); scale-out: under torchrun, each rank scores its "
        "shard of the length mix",
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        choices=[p[0] for p in PATHS],
        default=[p[0] for p in PATHS],
        help="compare: which paths to time (default all)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", default=None, help="scale-out: the --out JSON of a run with fewer processes")
    parser.add_argument(
        "--compile", action="store_true", help="scale-out: compile the layers, as `lossgap score --compile`"
    )
    args = parser.parse_args()
    if args.mode == "scale-out":
        return scale_out(args)

    import importlib.util

    rate = matmul_rate()
    print(f"GPU: {torch.cuda.get_device_name()}  bf16 matmul 8192^3: {rate / 1e12:.0f} TFLOP/s  "
          f"flash-linear-attention: {importlib.util.find_spec('fla') is not None}", flush=True)  # fmt: skip
    rng = np.random.default_rng(0)
    rows: list[Row] = []
    diffs: dict[str, dict[str, float]] = {}
    for arch in args.models:
        model = build(arch)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{arch}: {n_params / 1e9:.2f}B parameters", flush=True)
        losses: dict[tuple[str, str], np.ndarray] = {}
        per_row = args.batch_tokens // 4096
        fixed = [rng.integers(0, VOCAB, 4096) for _ in range(args.fixed_batches * per_row)]
        mix = [rng.integers(0, VOCAB, n) for n in length_mix(rng, args.mix_tokens)]
        workloads = (("fixed 4096", fixed), ("length mix", mix))
        mixers = [m for m in model.modules() if type(m).__name__ == "OlmoHybridGatedDeltaNet"]
        original = {id(m): m.forward for m in mixers}
        for label, attention, compiled, packed, float32_head, stats in [p for p in PATHS if p[0] in args.paths]:
            for m in mixers:  # transformers' own Gated DeltaNet unless the path packs
                m.forward = original[id(m)]
                for name in ("lossgap_qkv_weight", "lossgap_ab_weight", "lossgap_conv_weight"):
                    m.__dict__.pop(name, None)
            head = CausalLMHead(model, float32_head=float32_head)
            if attention == "sdpa":
                model.set_attn_implementation("sdpa")
            elif not use_varlen_attention(model):
                print(f"  {label}: skipped, this PyTorch has no usable varlen_attn", flush=True)
                continue
            if packed:
                fused = use_fast_gated_deltanet(model) if mixers else True
                head.packed = packing_possible(model)
                if not head.packed:
                    print(
                        f"  {label}: skipped, packing is not possible here (fla fused Gated DeltaNet: {fused})",
                        flush=True,
                    )
                    continue
            if compiled:
                head.compile()  # compiled once; each workload's warm-up pass then compiles its shape classes
                # (a new head each path: the stats paths recompile only the head's function, the layers are cached)
            for workload, docs in workloads:
                attention = attention_flops(model.config, [len(d) for d in docs])
                if label == "naive":
                    row, out = timed(lambda d, m=model: naive(m, d, args.batch_tokens), docs, n_params, rate,
                                     attention, model=arch, workload=workload, path=label)  # fmt: skip
                else:
                    row, out = timed(lambda d, h=head, st=stats: fast(h, d, args.batch_tokens, stats=st), docs,
                                     n_params, rate, attention, model=arch, workload=workload, path=label)  # fmt: skip
                losses[workload, label] = np.concatenate(out)
                rows.append(row)
                print(f"  {workload:11s} {label:28s} {row.tokens_per_s:9,.0f} tok/s  MFU {row.mfu:5.1%} "
                      f"({row.mfu_attention:5.1%} with attention)  "
                      f"peak {row.peak_gib:5.1f} GiB  ({row.tokens:,} tokens, {row.seconds:.1f} s, warm-up "
                      f"{row.warmup_seconds:.0f} s)", flush=True)  # fmt: skip
        order = [p[0] for p in PATHS]
        for (workload, label), values in losses.items():
            for base in (
                "naive",
                "lossgap, SDPA attention",
                "lossgap padded",
            ):  # each path against the baselines before it
                if order.index(base) < order.index(label) and (workload, base) in losses:
                    d = np.abs(values - losses[workload, base])
                    key = f"{arch} {workload}: {label} vs {base}"
                    rel = float(np.mean(d / np.maximum(losses[workload, base], 1e-6)))
                    diffs[key] = {"max_abs": float(d.max()), "mean_rel": rel}
                    print(f"  {key}: max |diff| {d.max():.3f}, mean relative {rel:.2e}", flush=True)
        if args.out:  # after each model, so that a run cut short keeps what it measured
            with open(args.out, "w") as fh:
                json.dump({"gpu": torch.cuda.get_device_name(), "matmul_flops": rate,
                           "rows": [asdict(r) for r in rows], "diffs": diffs}, fh, indent=2)  # fmt: skip
        del model, head
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
