"""The exception types of lossgap: one root, a few kinds. The CLI turns them into one line on stderr.

`ScoringInterrupted` is no LossgapError but a KeyboardInterrupt: Ctrl-C, with what was kept.
"""

from __future__ import annotations

__all__ = [
    "LossgapError",
    "ConfigError",
    "RunDirError",
    "SchemaError",
    "TokenizerMismatchError",
    "CorpusError",
    "ScoringInterrupted",
]


class LossgapError(Exception):
    """Root of every error lossgap raises on purpose; the message says what is wrong and what to do."""


class ConfigError(LossgapError):
    """An option or configuration value is invalid; the message names the option."""


class RunDirError(LossgapError):
    """The run directory is missing a file, or holds one that does not fit this command."""


class SchemaError(RunDirError):
    """A table in the run directory lacks a column or has a column of the wrong type."""


class TokenizerMismatchError(LossgapError):
    """A model's tokenizer does not reproduce the run's token ids."""


class CorpusError(LossgapError):
    """A corpus file cannot be read (bad JSON, missing field, duplicate ids)."""


class ScoringInterrupted(KeyboardInterrupt):
    """Scoring was interrupted (Ctrl-C); the windows finished so far were kept and the same call resumes."""

    def __init__(self, name: str, parts: object, kept_tokens: int, total_tokens: int) -> None:
        super().__init__(
            f"interrupted: {kept_tokens:,} of {total_tokens:,} tokens of {name!r} are scored and kept in {parts}"
        )
        self.name, self.parts, self.kept_tokens, self.total_tokens = name, parts, kept_tokens, total_tokens
