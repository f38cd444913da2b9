"""Architectures lossgap adds to transformers' Auto classes: `olmo_recurrent`, Olmo Hybrid with Gated DeltaNet
in every layer (a pure recurrent model).

transformers' `OlmoHybridConfig` refuses a layout without attention ("OLMoHybrid expects at least one attention
layer"), although its model code runs any layout. The study's third architecture needs exactly that layout, so
lossgap registers a config that requires it, under its own model type, and a model class that is Olmo Hybrid's
unchanged. A checkpoint saved from it says `"model_type": "olmo_recurrent"` in its config.json; `lossgap score`
registers the type before it loads a model, so such checkpoints load without `--trust-remote-code`. In your own
code, `import lossgap.scoring.architectures` does the same.
"""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, AutoModelForCausalLM, OlmoHybridConfig, OlmoHybridForCausalLM

__all__ = ["OlmoRecurrentConfig", "OlmoRecurrentForCausalLM"]

LINEAR = "linear_attention"


@strict  # transformers' configs are strict dataclasses: validators are collected when a class is decorated
class OlmoRecurrentConfig(OlmoHybridConfig):
    """Olmo Hybrid's configuration with every layer a Gated DeltaNet layer ('linear_attention')."""

    model_type = "olmo_recurrent"

    def __post_init__(self, **kwargs):  # type: ignore[no-untyped-def]
        if self.layer_types is None:
            self.layer_types = [LINEAR] * int(self.num_hidden_layers)
        super().__post_init__(**kwargs)

    def validate_architecture(self) -> None:
        if any(t != LINEAR for t in self.layer_types):
            raise ValueError(f"olmo_recurrent has {LINEAR!r} in every layer; got {self.layer_types}")


class OlmoRecurrentForCausalLM(OlmoHybridForCausalLM):
    """Olmo Hybrid's causal LM over an `OlmoRecurrentConfig`."""

    config_class = OlmoRecurrentConfig


AutoConfig.register(OlmoRecurrentConfig.model_type, OlmoRecurrentConfig, exist_ok=True)
AutoModelForCausalLM.register(OlmoRecurrentConfig, OlmoRecurrentForCausalLM, exist_ok=True)
