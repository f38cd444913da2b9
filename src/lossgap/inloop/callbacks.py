"""Ready-made hooks that call an `Evaluator` every N optimizer steps and log its filtered losses: a Hugging Face
`TrainerCallback` and a Lightning `Callback` (built on demand, so Lightning is only needed where it is used)."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from lossgap.inloop.evaluator import Evaluator

__all__ = ["LossgapTrainerCallback", "lightning_callback"]


class LossgapTrainerCallback(TrainerCallback):
    """Every `every_n_steps` optimizer steps (and at the end of training), evaluate and log.

    With `trainer` given (or set later as `callback.trainer`), the losses go through `trainer.log`, so every
    reporter the trainer has (TensorBoard, W&B, …) receives them; otherwise they are appended to
    `state.log_history`. Each call's losses are also kept in `self.history` as (step, metrics).
    """

    def __init__(self, evaluator: Evaluator, every_n_steps: int, trainer: Any = None) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.evaluator, self.every_n_steps, self.trainer = evaluator, every_n_steps, trainer
        self.history: list[tuple[int, dict[str, float]]] = []

    def _evaluate(self, state: Any, model: Any) -> None:
        if self.history and self.history[-1][0] == state.global_step:
            return
        metrics = self.evaluator(model)  # every rank takes part (the evaluator shards and all-reduces under DDP)
        self.history.append((state.global_step, metrics))
        if not state.is_world_process_zero:
            return  # only the main process logs
        if self.trainer is not None:
            self.trainer.log(dict(metrics))
        else:
            state.log_history.append({**metrics, "step": state.global_step})

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.global_step % self.every_n_steps == 0:
            self._evaluate(state, model)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._evaluate(state, model)


def lightning_callback(evaluator: Evaluator, every_n_steps: int) -> Any:
    """A `lightning.pytorch.Callback` that evaluates every `every_n_steps` optimizer steps and logs through
    `pl_module.log_dict` (needs the `lightning` package)."""
    try:
        from lightning.pytorch import Callback
    except ImportError:  # the older package name
        from pytorch_lightning import Callback

    class LossgapLightningCallback(Callback):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            self.history: list[tuple[int, dict[str, float]]] = []

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            step = trainer.global_step
            if step % every_n_steps == 0 and (not self.history or self.history[-1][0] != step):
                metrics = evaluator(pl_module.model if hasattr(pl_module, "model") else pl_module)
                self.history.append((step, metrics))
                pl_module.log_dict(metrics, rank_zero_only=True)  # every rank evaluated; rank 0 logs

    return LossgapLightningCallback()
