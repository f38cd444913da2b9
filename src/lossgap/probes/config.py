"""Options of `lossgap probes` (no heavy imports: the CLI reads it for its help)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lossgap.errors import ConfigError
from lossgap.rundir.manifest import COPY_PROBES

__all__ = ["COPY_PROBES", "PROBE_NAMES", "ProbesConfig"]

# appended to, never reordered: a probe's index seeds its documents
PROBE_NAMES = ("copy", "recall", "tracking", "pronoun", "brackets", "copy_distance", "tracking_swap")
_DEFAULT_LEVELS = {"copy": (4, 16, 64, 256), "recall": (4, 16, 64), "tracking": (1, 4, 16), "pronoun": (0, 4, 16),
                   "brackets": (2, 4, 8), "copy_distance": (0, 4, 16, 64), "tracking_swap": (1, 4, 16)}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ProbesConfig:
    """Which probes, at which levels, how many documents of each (probe, level), from which seed.

    levels: per probe, the difficulties to generate (copy: words in the string; recall: key-value pairs;
    tracking: moves; pronoun: filler sentences between a person's pronouns and their use; brackets: nesting
    depth; copy_distance: filler sentences between the two copies). Probes not named keep their default levels.
    """

    probes: tuple[str, ...] = PROBE_NAMES
    docs: int = 20
    seed: int = 0
    levels: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [p for p in (*self.probes, *self.levels) if p not in PROBE_NAMES]
        if unknown:
            raise ConfigError(f"unknown probe(s) {', '.join(unknown)}: choose from {', '.join(PROBE_NAMES)}")
        if not self.probes:
            raise ConfigError("--probe: name at least one probe")
        if self.docs < 1:
            raise ConfigError(f"--docs {self.docs}: must be at least 1")
        for probe, levels in self.levels.items():
            smallest = 1 if probe in ("copy", "recall", "brackets") else 0
            if not levels or any(not isinstance(v, int) or v < smallest for v in levels):
                flag = f"--{probe.replace('_', '-')}-level"
                raise ConfigError(f"{flag}: give integers >= {smallest}, e.g. {flag} 4 {flag} 16")

    def levels_of(self, probe: str) -> tuple[int, ...]:
        return tuple(self.levels.get(probe, _DEFAULT_LEVELS[probe]))
