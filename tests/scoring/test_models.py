"""Model loading: GPU-only Gated DeltaNet kernels are kept away from CPU scoring; names and devices."""

import os
import subprocess
import sys
import textwrap

import pytest

from lossgap.errors import ConfigError
from lossgap.scoring.config import COMPILE_MIN_TOKENS, ScoreConfig, default_name
from lossgap.scoring.models import resolve_device


def test_cpu_scoring_hides_gpu_only_fla_kernels(tmp_path, hybrid_model, corpus_file):
    """With a (fake) flash-linear-attention importable, CPU scoring of Olmo Hybrid must never import it: some
    transformers versions pick its kernels at import whatever the device and crash on the CPU, others fall back by
    themselves; lossgap hides the package either way. The fake records every import and kernel call in a file, so
    the check reads what happened instead of relying on how some version of transformers fails."""
    fake = tmp_path / "site" / "fla"
    fake.mkdir(parents=True)
    calls = tmp_path / "fla-calls.txt"
    (fake / "__init__.py").write_text(
        textwrap.dedent(
            f"""
            with open({str(calls)!r}, "a") as fh:
                fh.write("imported\\n")
            def _gpu_only(*args, **kwargs):
                with open({str(calls)!r}, "a") as fh:
                    fh.write("called\\n")
                raise RuntimeError("fla kernel called on the CPU")
            chunk_gated_delta_rule = fused_recurrent_gated_delta_rule = _gpu_only
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), *sys.path])}

    # The control: the fake is importable in this environment, and importing it is recorded.
    control = subprocess.run([sys.executable, "-c", "import fla"], capture_output=True, text=True, env=env, timeout=60)
    assert control.returncode == 0, control.stderr
    assert calls.read_text() == "imported\n"
    calls.unlink()

    script = textwrap.dedent(
        f"""
        import importlib
        from lossgap.corpus import CorpusConfig, run_corpus
        from lossgap.scoring import ScoreConfig, run_score
        run_corpus({str(tmp_path / "run")!r}, {str(corpus_file)!r}, CorpusConfig())
        result = run_score({str(tmp_path / "run")!r}, ScoreConfig(model={str(hybrid_model)!r}, device="cpu"))
        print("scored", result.n_tokens)
        try:
            importlib.import_module("fla")
        except ImportError:
            print("fla hidden")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "scored" in proc.stdout and "fla hidden" in proc.stdout
    assert not calls.exists(), calls.read_text()  # neither imported nor called during CPU scoring


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


def test_compile_by_default_only_on_a_gpu_with_a_long_run():
    auto = ScoreConfig(model="m")
    assert auto.resolved_compile("cuda", COMPILE_MIN_TOKENS) is True
    assert auto.resolved_compile("cuda", COMPILE_MIN_TOKENS - 1) is False  # a short run would spend longer compiling
    assert auto.resolved_compile("cpu", 10 * COMPILE_MIN_TOKENS) is False  # a CPU compiles only when asked
    assert ScoreConfig(model="m", compile=False).resolved_compile("cuda", 10 * COMPILE_MIN_TOKENS) is False
    assert ScoreConfig(model="m", compile=True).resolved_compile("cpu", 10) is True
