"""Controlled probes: generated documents whose marked tokens test copying, associative recall, state tracking,
pronoun memory and bracket matching (`generate`), written as a run's corpus with their marks (`run`); the
annotator `lossgap.features.probes` turns marks into feature columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "PROBE_NAMES": "config", "ProbesConfig": "config",
    "PROBES": "generate", "Mark": "generate", "ProbeDoc": "generate",
    "ProbesResult": "run", "generate_probes": "run", "run_probes": "run",
    "answer_losses": "answers", "answer_table": "answers",
}  # fmt: skip
__all__ = ["PROBES", "PROBE_NAMES", "Mark", "ProbeDoc", "ProbesConfig", "ProbesResult", "answer_losses", "answer_table",
           "generate_probes", "run_probes"]  # fmt: skip
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.probes.answers import answer_losses, answer_table
    from lossgap.probes.config import PROBE_NAMES, ProbesConfig
    from lossgap.probes.generate import PROBES, Mark, ProbeDoc
    from lossgap.probes.run import ProbesResult, generate_probes, run_probes
