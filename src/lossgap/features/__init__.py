"""Token features: one annotator per module (words, brackets, repeats, rarity, code, position, text), listed in
`registry.ANNOTATORS`; `run_annotate` reads the run directory and writes its features table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "ANNOTATORS": "registry",
    "AnnotateConfig": "config",
    "AnnotateResult": "annotate",
    "Annotator": "registry",
    "run_annotate": "annotate",
}
__all__ = [
    "ANNOTATORS",
    "AnnotateConfig",
    "AnnotateResult",
    "Annotator",
    "run_annotate",
]
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.features.annotate import AnnotateResult, run_annotate
    from lossgap.features.config import AnnotateConfig
    from lossgap.features.registry import ANNOTATORS, Annotator
