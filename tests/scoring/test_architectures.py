"""lossgap's `olmo_recurrent`: Olmo Hybrid with Gated DeltaNet in every layer, built, saved and loaded through
transformers' Auto classes (which refuse that layout under Olmo Hybrid's own config)."""

from __future__ import annotations

import pytest
import torch

from lossgap.scoring.architectures import OlmoRecurrentConfig

SMALL = dict(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64, pad_token_id=0, eos_token_id=1)  # fmt: skip


def test_recurrent_saves_and_loads_with_the_same_outputs(tmp_path) -> None:
    from transformers import AutoModelForCausalLM, OlmoHybridConfig

    config = OlmoRecurrentConfig(**SMALL)
    assert config.layer_types == ["linear_attention", "linear_attention"]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    ids = torch.randint(2, 97, (2, 11))
    logits = model(input_ids=ids, use_cache=False).logits
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded).__name__ == "OlmoRecurrentForCausalLM"
    torch.testing.assert_close(loaded(input_ids=ids, use_cache=False).logits, logits, rtol=0, atol=0)
    with pytest.raises(Exception, match="at least one attention layer"):  # what the registration works around
        OlmoHybridConfig(**SMALL, layer_types=config.layer_types)


def test_recurrent_config_refuses_attention_layers() -> None:
    with pytest.raises(Exception, match="linear_attention' in every layer"):
        OlmoRecurrentConfig(**SMALL, layer_types=["linear_attention", "full_attention"])
