"""Comparing models that do not share a tokenizer: the text cut into words or bytes (`segmentation`), each token's loss
shared among the units it covers (`attribution`), and the unit run that compare, curves and report read
(`build`); `resolve_unit` picks the run an analysis reads for `--unit`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "UNITS": "segmentation", "segment": "segmentation", "char_to_byte": "segmentation",
    "ATTRIBUTION": "attribution", "unit_losses": "attribution",
    "UnitScores": "build", "build_units": "build", "unit_tokens": "build",
    "resolve_unit": "resolve", "report_run": "resolve",
}  # fmt: skip
__all__ = ["ATTRIBUTION", "UNITS", "UnitScores", "build_units", "char_to_byte", "report_run", "resolve_unit", "segment",
           "unit_losses", "unit_tokens"]  # fmt: skip
__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.units.attribution import ATTRIBUTION, unit_losses
    from lossgap.units.build import UnitScores, build_units, unit_tokens
    from lossgap.units.resolve import report_run, resolve_unit
    from lossgap.units.segmentation import UNITS, char_to_byte, segment
