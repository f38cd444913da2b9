"""Independent float64 references for per-token losses: full forward passes, one context at a time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def load_float64(folder: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float64).eval()


@torch.no_grad()
def full_context_losses(model, ids: np.ndarray) -> np.ndarray:
    """−log p(ids[p] | ids[:p]) for p ≥ 1 from the model's own logits, log-softmax in float64."""
    x = torch.tensor(ids, dtype=torch.long)[None]
    logp = torch.log_softmax(model(input_ids=x).logits[0].double(), dim=-1)
    return -logp[:-1].gather(1, x[0, 1:, None]).squeeze(1).numpy()


@torch.no_grad()
def context_losses(model, ids: np.ndarray, starts: list[int]) -> np.ndarray:
    """−log p(ids[p] | ids[starts[p]:p]) for p ≥ 1: one forward pass per token, no sharing at all."""
    out = []
    for p in range(1, len(ids)):
        x = torch.tensor(ids[starts[p] : p + 1], dtype=torch.long)[None]
        logp = torch.log_softmax(model(input_ids=x).logits[0, -2].double(), dim=-1)
        out.append(-logp[int(ids[p])].item())
    return np.array(out)
