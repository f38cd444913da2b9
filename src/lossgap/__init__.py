"""lossgap: compare causal language models token by token."""

from lossgap.errors import (
    ConfigError,
    CorpusError,
    LossgapError,
    RunDirError,
    SchemaError,
    TokenizerMismatchError,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "CorpusError",
    "LossgapError",
    "RunDirError",
    "SchemaError",
    "TokenizerMismatchError",
    "__version__",
]
