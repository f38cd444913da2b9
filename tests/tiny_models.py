"""Tiny random-initialised Olmo 3, Olmo Hybrid and Llama models and a locally trained BPE tokenizer."""

from __future__ import annotations

from pathlib import Path

import torch

ARCHITECTURES = ("llama", "olmo3", "olmo_hybrid")


def train_tokenizer(folder: Path, texts: list[str], vocab_size: int = 400, add_bos: bool = False) -> Path:
    """A byte-level BPE tokenizer trained on `texts`, saved as a transformers fast tokenizer.

    By default it adds no BOS itself (like Olmo's), so lossgap prepends its BOS token.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|bos|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(texts * 3, trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<|bos|> $A", pair="<|bos|> $A <|bos|> $B", special_tokens=[("<|bos|>", 1)]
        )
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|endoftext|>", pad_token="<|pad|>"
    )
    fast.save_pretrained(folder)
    return folder


def tiny_config(arch: str, vocab_size: int):
    from transformers import LlamaConfig, Olmo3Config, OlmoHybridConfig

    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=1,
        eos_token_id=0,
        pad_token_id=2,
    )
    if arch == "llama":
        return LlamaConfig(num_hidden_layers=2, **common)
    if arch == "olmo3":
        return Olmo3Config(num_hidden_layers=2, sliding_window=16, **common)
    if arch == "olmo_hybrid":
        common["num_key_value_heads"] = 4
        return OlmoHybridConfig(
            num_hidden_layers=4,
            layer_types=["linear_attention", "linear_attention", "linear_attention", "full_attention"],
            linear_num_key_heads=2,
            linear_num_value_heads=2,
            linear_key_head_dim=8,
            linear_value_head_dim=16,
            **common,
        )
    raise ValueError(arch)


def save_tiny_model(arch: str, folder: Path, tokenizer_dir: Path, seed: int = 0) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tokenizer)), dtype=torch.float32)
    # Random init gives near-uniform predictions; larger weights make losses vary token by token.
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.mul_(8.0)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
