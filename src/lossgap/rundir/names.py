"""Names of scored models inside a run: file-name safe, so `scores/NAME.parquet` is one file of the run."""

from __future__ import annotations

import re

from lossgap.errors import RunDirError

__all__ = ["validate_name"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+=-]*$")


def validate_name(name: str) -> str:
    """Return `name` if it can name a scored model in a run (a file name without path separators).

    >>> validate_name("hybrid-1b@step10000")
    'hybrid-1b@step10000'
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or len(name) > 200:
        raise RunDirError(
            f"invalid model name {name!r}: use letters, digits and . _ @ + = - (no slashes), e.g. 'hybrid-1b@step10000'"
        )
    return name
