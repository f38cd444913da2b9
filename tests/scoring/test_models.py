"""Model loading: GPU-only Gated DeltaNet kernels are kept away from CPU scoring; names and devices."""

import os
import subprocess
import sys
import textwrap

import pytest

from lossgap.errors import ConfigError
from lossgap.scoring.config import ScoreConfig, default_name
from lossgap.scoring.models import resolve_device


def test_cpu_scoring_hides_gpu_only_fla_kernels(tmp_path, hybrid_model, corpus_file):
    """With a (fake) flash-linear-attention importable, transformers would pick its kernels on the CPU and
    crash; lossgap must hide the package so that Olmo Hybrid runs on the PyTorch path."""
    fake = tmp_path / "site" / "fla"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        textwrap.dedent(
            """
            def _gpu_only(*args, **kwargs):
                raise RuntimeError("fla kernel called on the CPU")
            chunk_gated_delta_rule = fused_recurrent_gated_delta_rule = _gpu_only
            """
        )
    )
    script = textwrap.dedent(
        f"""
        import sys
        from lossgap.corpus import CorpusConfig, run_corpus
        from lossgap.scoring import ScoreConfig, run_score
        import fla  # importable, as on a machine with flash-linear-attention installed
        del sys.modules["fla"]
        run_corpus({str(tmp_path / 'run')!r}, {str(corpus_file)!r}, CorpusConfig())
        result = run_score({str(tmp_path / 'run')!r}, ScoreConfig(model={str(hybrid_model)!r}, device="cpu"))
        print("scored", result.n_tokens)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "scored" in proc.stdout

    # The control: without lossgap's hiding, the fake kernel is picked and the forward pass fails.
    control = textwrap.dedent(
        f"""
        import torch
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained({str(hybrid_model)!r})
        model(input_ids=torch.tensor([[1, 5, 6, 7]]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", control], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0 and "fla kernel called on the CPU" in proc.stderr


def test_default_names():
    assert default_name("allenai/Olmo-3-1025-7B", None) == "Olmo-3-1025-7B"
    assert default_name("my-org/hybrid-1b", "step10000") == "hybrid-1b@step10000"
    assert default_name("/models/SmolLM2-135M-Instruct.Q4_1.gguf", None) == "SmolLM2-135M-Instruct.Q4_1"


def test_bad_options_name_the_option():
    with pytest.raises(ConfigError, match="--stride"):
        ScoreConfig(model="m", max_length=8, stride=8)
    with pytest.raises(ConfigError, match="--device"):
        ScoreConfig(model="m", device="tpu")
    with pytest.raises(ConfigError, match="--name"):
        ScoreConfig(model="m", name="a/b")


def test_cuda_request_without_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
