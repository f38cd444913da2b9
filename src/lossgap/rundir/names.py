"""Names of scored models inside a run: file-name safe, so `scores/NAME.parquet` is one file of the run."""

from __future__ import annotations

import re

from lossgap.errors import RunDirError

__all__ = ["default_result_name", "validate_name"]

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


def default_result_name(kind: str, *, baseline: str = "", candidate: str = "", series: tuple[str, ...] = ()) -> str:
    """The name a result gets unless one is given: `BASELINE-vs-CANDIDATE`, `discover-BASELINE-vs-CANDIDATE`, `curves-SERIES-…`,
    `training`
    (cut to 200 characters; two results whose names collide that way are told apart with --name).

    >>> default_result_name("compare", baseline="transformer", candidate="hybrid")
    'transformer-vs-hybrid'
    """
    if kind == "compare":
        return f"{baseline}-vs-{candidate}"[:200]
    if kind == "discover":
        return f"discover-{baseline}-vs-{candidate}"[:200]  # a name is at most 200 characters
    if kind == "curves":
        return "-".join(("curves", *series))[:200]
    return "training"
