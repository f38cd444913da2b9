"""Filtered losses inside training loops: a masks file exported from a run (`lossgap masks`), an evaluator that
a loop calls with its model, ready-made callbacks for the Hugging Face Trainer and for Lightning, and the
evaluator's logs as a run's results table for the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "DEFAULT_MASKS": "masks",
    "Evaluator": "evaluator",
    "LossgapTrainerCallback": "callbacks",
    "MasksFile": "masks",
    "export_masks": "masks",
    "lightning_callback": "callbacks",
    "training_frame": "training",
    "write_training_curves": "training",
}
__all__ = [
    "DEFAULT_MASKS",
    "Evaluator",
    "LossgapTrainerCallback",
    "MasksFile",
    "export_masks",
    "lightning_callback",
    "training_frame",
    "write_training_curves",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.inloop.callbacks import LossgapTrainerCallback, lightning_callback
    from lossgap.inloop.evaluator import Evaluator
    from lossgap.inloop.masks import DEFAULT_MASKS, MasksFile, export_masks
    from lossgap.inloop.training import training_frame, write_training_curves
