"""lossgap: compare causal language models token by token.

In a notebook (docs/notebook.md): `lossgap.token_frame(run, baseline=…, candidate=…)` gives every compared
token with both losses, the gap and its features; `lossgap.compare_frame(tokens, config)` compares any such
table; `lossgap.RunDir(path)` reads a run's files and results back as typed objects.
"""

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports
from lossgap.errors import (
    ConfigError,
    CorpusError,
    LossgapError,
    RunDirError,
    SchemaError,
    TokenizerMismatchError,
)

__version__ = "0.1.0"

_WHERE = {"token_frame": "analysis.join", "compare_frame": "analysis.compare", "RunDir": "rundir"}
__getattr__ = lazy_exports(__name__, _WHERE)

__all__ = [
    "RunDir",
    "compare_frame",
    "token_frame",
    "ConfigError",
    "CorpusError",
    "LossgapError",
    "RunDirError",
    "SchemaError",
    "TokenizerMismatchError",
    "__version__",
]

if TYPE_CHECKING:
    from lossgap.analysis.compare import compare_frame
    from lossgap.analysis.join import token_frame
    from lossgap.rundir import RunDir
