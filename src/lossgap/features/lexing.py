"""Pygments lexing of code and markup documents, shared by the code-class and bracket annotators.

Reads a document's text and domain; returns the lexemes' start offsets and token types (or None).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, String
from pygments.util import ClassNotFound

from lossgap.features.records import LexedText

__all__ = ["lexer_for_domain", "lex_text"]

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=256)
def lexer_for_domain(domain: str) -> Lexer | None:
    """The Pygments lexer whose alias is `domain` (case-insensitive: python, html, latex, …), or None."""
    try:
        # No newline stripping or tab expansion: lexeme offsets must index the original text.
        return get_lexer_by_name(domain.lower(), stripnl=False, stripall=False, ensurenl=False, tabsize=0)
    except ClassNotFound:
        return None


def lex_text(text: str, lexer: Lexer) -> LexedText | None:
    """Lex `text`; None (logged) if the lexer fails. Pygments reads malformed code as Error lexemes instead
    of failing, so a failure here is a lexer bug, not bad input."""
    starts: list[int] = []
    types: list[str] = []
    literal: list[bool] = []
    try:
        for index, ttype, value in lexer.get_tokens_unprocessed(text):
            if not value:
                continue
            starts.append(index)
            types.append(".".join(ttype))
            literal.append(ttype in String or ttype in Comment)
    except Exception as exc:  # noqa: BLE001 - a third-party lexer may raise anything; the document is kept
        log.warning("Pygments lexer %s failed (%s); code_class is null for this document", lexer.name, exc)
        return None
    return LexedText(
        starts=np.array(starts, dtype=np.int64), types=tuple(types), is_literal=np.array(literal, dtype=bool)
    )
