"""The three matched architectures: same width, depth, MLP, embeddings, tokenizer and rotary base; only the
sequence mixer differs.

- transformer: transformers' `Olmo3ForCausalLM`, attention in every layer (no sliding windows).
- hybrid: `OlmoHybridForCausalLM`, Gated DeltaNet in three of four layers and attention in the fourth. Its
  attention layers are Olmo 3's (post-norm, QK-norm); its Gated DeltaNet layers are pre-norm, as Olmo Hybrid is.
- recurrent: lossgap's `olmo_recurrent` (`lossgap.scoring.architectures`): Olmo Hybrid's model with Gated
  DeltaNet in every layer, under a config type that allows it (transformers' refuses a layout without attention).

Gated DeltaNet layers get key width d/2 and value width d (heads of 64 and 128 dimensions), which gives them the
parameters of an attention layer (4d²: q and k d×d/2 each, v, gate and output d×d each) instead of the ~25% more
of transformers' default widths, so the three models have nearly the same parameter count.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHS = ("transformer", "hybrid", "recurrent")


@dataclass(frozen=True)
class Size:
    hidden: int
    layers: int
    heads: int  # attention heads of 64 dimensions (tiny: of hidden // heads)
    mlp: int
    context: int  # training sequence length and the models' max_position_embeddings


SIZES = {
    "small": Size(hidden=768, layers=12, heads=12, mlp=3072, context=1024),
    "mini": Size(
        hidden=512, layers=8, heads=8, mlp=2048, context=1024
    ),  # the copying-regime run: more steps a GPU-minute
    "tiny": Size(hidden=64, layers=4, heads=4, mlp=128, context=128),  # CPU smoke test
}
ROPE_THETA = 10_000.0


def build_config(arch: str, size: Size, vocab: int, special: dict[str, int]):  # type: ignore[no-untyped-def]
    """The transformers config of `arch` at `size` (special: bos/eos/pad token ids)."""
    from transformers import Olmo3Config, OlmoHybridConfig

    from lossgap.scoring.architectures import OlmoRecurrentConfig

    common = dict(vocab_size=vocab, hidden_size=size.hidden, intermediate_size=size.mlp, num_hidden_layers=size.layers,
                  num_attention_heads=size.heads, num_key_value_heads=size.heads,
                  max_position_embeddings=size.context, rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
                  tie_word_embeddings=False, use_cache=False, **special)  # fmt: skip
    if arch == "transformer":
        return Olmo3Config(
            **common, layer_types=["full_attention"] * size.layers, sliding_window=size.context
        )  # unused by full-attention layers; Olmo 3 builds its mask anyway
    head_dim = size.hidden // size.heads
    linear = dict(linear_num_key_heads=size.heads // 2, linear_num_value_heads=size.heads // 2,
                  linear_key_head_dim=head_dim, linear_value_head_dim=2 * head_dim)  # fmt: skip
    if arch == "hybrid":
        types = ["full_attention" if i % 4 == 3 else "linear_attention" for i in range(size.layers)]
        return OlmoHybridConfig(**common, **linear, layer_types=types)
    if arch == "recurrent":
        return OlmoRecurrentConfig(**common, **linear)
    raise ValueError(f"unknown architecture {arch!r}: choose from {', '.join(ARCHS)}")
