"""Token features: one annotator per module (words, brackets, repeats, rarity, code, position, text), listed in
`registry.ANNOTATORS`; `run_annotate` reads the run directory and writes features.parquet."""

from lossgap.features.annotate import AnnotateConfig, AnnotateResult, run_annotate
from lossgap.features.registry import ANNOTATORS, Annotator

__all__ = ["AnnotateConfig", "AnnotateResult", "run_annotate", "ANNOTATORS", "Annotator"]
