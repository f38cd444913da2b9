"""Named categories of tokens that every stage reads the same way: the mask presets and the repeat-length bins.

One definition each, here with the data contract: "repeated" means repeat_len >= 2 in compare's headline, in
curves, in the in-loop evaluator and in the report's viewer alike.
"""

from __future__ import annotations

__all__ = ["PRESETS", "HEADLINE", "REPEAT_LEN_BINS", "repeat_len_bin_sql"]

# repeat_len counts the longest earlier-seen n-gram ending at the token; 1 means only the token itself was
# seen before (true of most function words in any long document), so "repeated" starts at a repeated bigram.
PRESETS: dict[str, str] = {
    "all": "TRUE",
    "content": "word_class = 'content'",
    "function": "word_class = 'function'",
    "content_nonrepeat": "word_class = 'content' AND repeat_len < 2",
    "function_nonrepeat": "word_class = 'function' AND repeat_len < 2",
    "repeated": "repeat_len >= 2",
    "nonrepeated": "repeat_len < 2",
    "open_bracket": "bracket_side = 'open'",
    "close_bracket": "bracket_side = 'close'",
}
HEADLINE = ("all", "content", "function", "open_bracket", "close_bracket", "repeated", "nonrepeated")

# (lowest, highest or None, label) of each repeat_len bin, in order.
REPEAT_LEN_BINS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"), (1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 7, "4-7"), (8, 15, "8-15"), (16, None, "16+"),
)  # fmt: skip


def repeat_len_bin_sql(column: str = "repeat_len") -> str:
    """SQL mapping a repeat_len column to its bin label (NULL stays NULL).

    >>> repeat_len_bin_sql("r")
    "CASE WHEN r IS NULL THEN NULL WHEN r <= 0 THEN '0' WHEN r <= 1 THEN '1' WHEN r <= 2 THEN '2' WHEN r <= 3 THEN '3' WHEN r <= 7 THEN '4-7' WHEN r <= 15 THEN '8-15' ELSE '16+' END"
    """
    cases = " ".join(f"WHEN {column} <= {high} THEN '{label}'" for _, high, label in REPEAT_LEN_BINS if high is not None)
    return f"CASE WHEN {column} IS NULL THEN NULL {cases} ELSE '{REPEAT_LEN_BINS[-1][2]}' END"
