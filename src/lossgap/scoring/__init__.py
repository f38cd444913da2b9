"""The scoring stage: per-token losses of one model on the run's corpus (tokens.parquet, scores/NAME.parquet)."""

from lossgap.scoring.config import ScoreConfig, default_name
from lossgap.scoring.run import ScoreResult, run_score

__all__ = ["ScoreConfig", "ScoreResult", "default_name", "run_score"]
