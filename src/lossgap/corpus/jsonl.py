"""Reading raw records from a JSONL file (optionally gzip-compressed): one JSON object per line."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from lossgap.corpus.config import CorpusConfig
from lossgap.corpus.fields import record_domain, record_id
from lossgap.corpus.table import RawDoc
from lossgap.errors import CorpusError

__all__ = ["iter_jsonl"]


def iter_jsonl(path: Path, config: CorpusConfig) -> Iterator[RawDoc]:
    """Yield one RawDoc per non-blank line; a line that is not a JSON object is a CorpusError naming it.

    Undecodable bytes are replaced by U+FFFD and flagged. The text is `config.text_field`, the id
    `config.id_field` (default: `id`, else `doc_id`), the domain `config.domain_field`.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line, invalid = raw.decode("utf-8"), False
                except UnicodeDecodeError:
                    line, invalid = raw.decode("utf-8", errors="replace"), True
                if not line.strip():
                    continue
                where = f"{path.name}:{lineno}"
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
                    if isinstance(exc, json.JSONDecodeError):  # its msg alone can end mid-sentence ("... at")
                        msg = f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
                    else:
                        msg = str(exc) or "nested too deeply"
                    raise CorpusError(f"{path}:{lineno}: not valid JSON ({msg}); fix or remove the line") from None
                if not isinstance(obj, dict):
                    raise CorpusError(
                        f"{path}:{lineno}: expected a JSON object with a {config.text_field!r} field, "
                        f"got {type(obj).__name__}"
                    )
                yield RawDoc(
                    text=obj.get(config.text_field),
                    location=where,
                    doc_id=record_id(obj, config, f"{path}:{lineno}"),
                    domain=record_domain(obj, config, f"{path}:{lineno}"),
                    invalid_utf8=invalid,
                )
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CorpusError(f"{path}: cannot read ({exc})") from None
