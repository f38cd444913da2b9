"""Brackets and markup delimiters: which kind a token opens or closes, and how far back its opener is.

Reads each document's text, token spans and (for code) its Pygments lexing; writes `bracket_kind`,
`bracket_side` and `bracket_match_dist`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lossgap.features.records import Chunk, DocumentTokens, LexedText, Resources

__all__ = ["BRACKET_CHARS", "TAG_DOMAINS", "Delimiter", "find_delimiters", "bracket_columns", "annotate_brackets"]

# Single characters that open or close: (kind, side).
BRACKET_CHARS: dict[str, tuple[str, str]] = {
    "(": ("round", "open"), ")": ("round", "close"),
    "[": ("square", "open"), "]": ("square", "close"),
    "{": ("curly", "open"), "}": ("curly", "close"),
    "⟨": ("angle", "open"), "⟩": ("angle", "close"),
    "〈": ("angle", "open"), "〉": ("angle", "close"),
    "（": ("round", "open"), "）": ("round", "close"),
    "［": ("square", "open"), "］": ("square", "close"),
    "【": ("square", "open"), "】": ("square", "close"),
    "｛": ("curly", "open"), "｝": ("curly", "close"),
}  # fmt: skip
# Domains whose text is read for HTML/XML tags (elsewhere `a<b and c>d` is not a tag).
TAG_DOMAINS = frozenset({"html", "xml", "xhtml", "svg", "markdown", "md", "vue", "php"})
VOID_ELEMENTS = frozenset("area base br col embed hr img input link meta param source track wbr".split())

_BRACKET = re.compile("[" + re.escape("".join(BRACKET_CHARS)) + "]")
_LATEX_ENV = re.compile(r"\\(begin|end)\s*\{([^{}\n]*)\}")
_LATEX_DELIM = re.compile(r"\\(left|right)(?![A-Za-z])\s*(\\[A-Za-z]+|\\[{}|]|[^\sA-Za-z\\])?")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_END = re.compile(r"</([A-Za-z][\w:.-]*)\s*>")
_HTML_START = re.compile(r"<([A-Za-z][\w:.-]*)((?:\s[^<>]*?)?)(/?)>")


@dataclass(frozen=True)
class Delimiter:
    """One opening or closing delimiter in a text: its characters are the spans [start, end) of `spans`.

    A construct can have a name that is no delimiter: `<div` opens with "<" alone, `</div>` closes with "</"
    and ">", `\\begin{itemize}` opens with "\\begin"; the name is what pairs must agree on.
    """

    spans: tuple[tuple[int, int], ...]
    kind: str
    side: str  # "open" | "close"
    name: str = ""  # the tag or environment name; pairs must agree on it

    @property
    def start(self) -> int:
        return self.spans[0][0]


def find_delimiters(text: str, domain: str) -> list[Delimiter]:
    """Every delimiter of `text` in character order.

    Markup constructs come first and claim their characters (a bracket inside them is no bracket of its own):
    `\\begin{x}`/`\\end{x}` (latex_env; the delimiter is the command, not `{x}`), `\\left(`/`\\right)`
    (latex_delim), and in TAG_DOMAINS start tags (html_tag open: the "<" alone; the name, attributes and ">"
    are not delimiters) and end tags `</name>` (html_tag close: "</" and ">", not the name). Void and
    self-closing tags open nothing. The remaining bracket characters of BRACKET_CHARS count in every domain.
    """
    found: list[Delimiter] = []
    claimed = np.zeros(len(text) + 1, dtype=bool)

    def claim(
        region: tuple[int, int], spans: tuple[tuple[int, int], ...], kind: str, side: str, name: str = ""
    ) -> None:
        if not claimed[region[0] : region[1]].any():
            claimed[region[0] : region[1]] = True
            found.append(Delimiter(spans, kind, side, name))

    for m in _LATEX_ENV.finditer(text):
        command = (m.start(), m.start() + len(m.group(1)) + 1)  # "\\begin" or "\\end"
        claim((m.start(), m.end()), (command,), "latex_env", "open" if m.group(1) == "begin" else "close",
              m.group(2).strip())  # fmt: skip
    for m in _LATEX_DELIM.finditer(text):
        claim((m.start(), m.end()), ((m.start(), m.end()),), "latex_delim", "open" if m.group(1) == "left" else "close")
    if domain.lower() in TAG_DOMAINS:
        for m in _HTML_COMMENT.finditer(text):
            claimed[m.start() : m.end()] = True  # brackets inside comments are text
        for m in _HTML_END.finditer(text):
            spans = ((m.start(), m.start() + 2), (m.end() - 1, m.end()))  # "</" and ">"
            claim((m.start(), m.end()), spans, "html_tag", "close", m.group(1).lower())
        for m in _HTML_START.finditer(text):
            name = m.group(1).lower()
            if m.group(3) or name in VOID_ELEMENTS:
                claimed[m.start() : m.end(1)] = True
            else:
                claim((m.start(), m.end(1)), ((m.start(), m.start() + 1),), "html_tag", "open", name)
    for m in _BRACKET.finditer(text):
        if not claimed[m.start()]:
            kind, side = BRACKET_CHARS[m.group()]
            found.append(Delimiter(((m.start(), m.end()),), kind, side))
    found.sort(key=lambda d: d.start)
    return found


_FAMILY = {"round": "bracket", "square": "bracket", "curly": "bracket", "angle": "bracket"}


def match_delimiters(delims: list[Delimiter], layers: list[int]) -> list[int]:
    """For each delimiter, the index of the opener it closes (-1 for openers and unmatched closers).

    Brackets of the four kinds share one stack, tags one, LaTeX environments one and \\left/\\right one, each
    separately per layer (0: code or prose; k > 0: inside the k-th string or comment, so a bracket in a
    string never pairs with one outside it). A closer pairs with the nearest open opener of its kind (and
    name); openers above it on the stack are left unclosed.
    """
    stacks: dict[tuple[int, str], list[int]] = {}
    matched = [-1] * len(delims)
    for i, (d, layer) in enumerate(zip(delims, layers, strict=True)):
        stack = stacks.setdefault((layer, _FAMILY.get(d.kind, d.kind)), [])
        if d.side == "open":
            stack.append(i)
            continue
        for depth in range(len(stack) - 1, -1, -1):
            opener = delims[stack[depth]]
            if opener.kind == d.kind and opener.name == d.name:
                matched[i] = stack[depth]
                del stack[depth:]
                break
    return matched


def bracket_columns(
    doc: DocumentTokens, lexed: LexedText | None
) -> tuple[list[str | None], list[str | None], list[int | None]]:
    """kind, side and match distance (tokens back to the opener's token) of every token of `doc`.

    A token's own characters decide: it is a closer if some of its characters belong to a closing delimiter
    and none to an opening one (so `});` and `)),` close), an opener in the mirror case, and side "both" when
    it holds characters of both (the single token `()`, or `)(`). Kind and distance come from its first
    closing delimiter (its first opening one for an opener; openers have no distance). The prefix token gets
    nulls; tokens without delimiter characters side "none".
    """
    n = doc.n_tokens
    kinds: list[str | None] = [None] * n
    sides: list[str | None] = [None if s < 0 else "none" for s in doc.char_start.tolist()]
    dists: list[int | None] = [None] * n
    delims = find_delimiters(doc.text, doc.domain)
    if not delims:
        return kinds, sides, dists
    starts = np.array([d.start for d in delims], dtype=np.int64)
    if lexed is not None and lexed.starts.size:
        lexeme = lexed.lexeme_at(starts)
        layers = np.where(lexeme >= 0, lexed.literal_runs()[np.maximum(lexeme, 0)], 0).tolist()
    else:
        layers = [0] * len(delims)
    matched = match_delimiters(delims, layers)
    # Tokens with characters, in position order; their starts are non-decreasing.
    valid = np.flatnonzero((doc.char_start >= 0) & (doc.char_end > doc.char_start))
    valid_starts = doc.char_start[valid]

    def distance_back(pos: int, k: int) -> int | None:
        """Tokens from `pos` back to the token holding the opener of delimiter k (None if unmatched, or if no
        token covers the opener: text the tokenizer dropped)."""
        if matched[k] < 0:
            return None
        index = int(np.searchsorted(valid_starts, delims[matched[k]].start, side="right")) - 1
        return pos - int(valid[index]) if index >= 0 else None

    hits: dict[str, dict[int, int]] = {}  # side -> token position -> its first delimiter of that side
    for side in ("open", "close"):
        spans = sorted((a, b, k) for k, d in enumerate(delims) if d.side == side for a, b in d.spans)
        if not spans:
            hits[side] = {}
            continue
        s_starts, s_ends, s_owner = (np.array(x, dtype=np.int64) for x in zip(*spans, strict=True))
        # First span of this side that overlaps [char_start, char_end): ends after start, starts before end.
        first = np.searchsorted(s_ends, doc.char_start[valid], side="right")
        first_c = np.minimum(first, len(s_starts) - 1)
        hit = (first < len(s_starts)) & (s_starts[first_c] < doc.char_end[valid])
        hits[side] = dict(zip(valid[hit].tolist(), s_owner[first_c[hit]].tolist(), strict=True))
    for pos, k in hits["open"].items():
        kinds[pos], sides[pos] = delims[k].kind, "open"
    for pos, k in hits["close"].items():
        kinds[pos], dists[pos] = delims[k].kind, distance_back(pos, k)
        sides[pos] = "both" if pos in hits["open"] else "close"
    return kinds, sides, dists


def annotate_brackets(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    """`bracket_kind`, `bracket_side` and `bracket_match_dist` for a chunk of documents."""
    kinds: list[str | None] = []
    sides: list[str | None] = []
    dists: list[int | None] = []
    for doc, lexed in zip(chunk.docs, chunk.lexed, strict=True):
        k, s, d = bracket_columns(doc, lexed)
        kinds += k
        sides += s
        dists += d
    return {
        "bracket_kind": pa.array(kinds, pa.string()),
        "bracket_side": pa.array(sides, pa.string()),
        "bracket_match_dist": pa.array(dists, pa.int32()),
    }
