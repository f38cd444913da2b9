"""The scoring stage: per-token losses of one model on the run's corpus (tokens and scores/NAME)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "ScoreConfig": "config",
    "ScoreResult": "run",
    "check_model_source": "source",
    "default_name": "config",
    "run_score": "run",
    "run_tokenize": "run",
}
__all__ = [
    "ScoreConfig",
    "ScoreResult",
    "check_model_source",
    "default_name",
    "run_score",
    "run_tokenize",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.scoring.config import ScoreConfig, default_name
    from lossgap.scoring.run import ScoreResult, run_score, run_tokenize
    from lossgap.scoring.source import check_model_source
