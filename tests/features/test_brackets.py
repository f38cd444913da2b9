from __future__ import annotations

import numpy as np

from lossgap.features.brackets import annotate_brackets, bracket_columns, find_delimiters
from lossgap.features.records import DocumentTokens
from tests.features.make import chunk_of, make_doc, resources


def brackets(pieces, domain):  # type: ignore[no-untyped-def]
    cols = annotate_brackets(chunk_of(make_doc(pieces, domain)), resources())
    return [
        tuple(col)
        for col in zip(
            *(cols[k].to_pylist() for k in ("bracket_kind", "bracket_side", "bracket_match_dist")), strict=True
        )
    ]


def test_brackets_merged_close_curly_paren_semicolon() -> None:
    # "f(function() {\n});" — "});" closes (its first closer is "}", opened by " {" two tokens back);
    # "()" both opens and closes: side "both", not a closer (its closer pairs with its own opener, distance 0).
    got = brackets(["f", "(", "function", "()", " {", "\n", "});"], "javascript")
    assert got == [
        (None, None, None),
        (None, "none", None),
        ("round", "open", None),
        (None, "none", None),
        ("round", "both", 0),
        ("curly", "open", None),
        (None, "none", None),
        ("curly", "close", 2),
    ]


def test_brackets_double_close_comma_closes() -> None:
    # "g(f(x)),"
    got = brackets(["g", "(", "f", "(", "x", ")),"], "python")
    assert got[6] == ("round", "close", 2)  # the first ")" closes the "(" of f at pos 4


def test_brackets_html_tags_delimiters_open_and_close_not_their_names() -> None:
    # "<div>hi</div>": the start tag's "<" opens (not "div", nor its ">"); the end tag's "</" and ">" close,
    # pointing back to the "<" at pos 1; the tag name "div" in either is no delimiter.
    got = brackets(["<", "div", ">", "hi", "</", "div", ">"], "html")
    assert got[1:] == [
        ("html_tag", "open", None),
        (None, "none", None),
        (None, "none", None),
        (None, "none", None),
        ("html_tag", "close", 4),
        (None, "none", None),
        ("html_tag", "close", 6),
    ]


def test_brackets_token_that_opens_and_closes_is_both() -> None:
    # "f(a)(b)": the token ")(" closes one call and opens the next.
    got = brackets(["f", "(", "a", ")(", "b", ")"], "python")
    assert [g[1] for g in got[1:]] == ["none", "open", "none", "both", "none", "close"]
    assert got[4] == ("round", "both", 2) and got[6] == ("round", "close", 2)


def test_brackets_html_void_and_self_closing_tags_open_nothing() -> None:
    got = brackets(["<p>", "a", "<br>", "b", "<img src=x/>", "</p>"], "html")
    assert [g[1] for g in got[1:]] == ["open", "none", "none", "none", "none", "close"]
    assert got[6] == ("html_tag", "close", 5)


def test_brackets_latex_environment_commands_open_and_close_not_their_names() -> None:
    # "\begin{itemize}\n\item a\n\end{itemize}": \begin opens, \end closes (8 tokens back); the braces
    # and the name are neither (and the braces are no curly brackets of their own).
    pieces = ["\\begin", "{", "itemize", "}", "\n", "\\item", " a", "\n", "\\end", "{", "itemize", "}"]
    got = brackets(pieces, "latex")
    assert got[1:5] == [("latex_env", "open", None)] + [(None, "none", None)] * 3
    assert got[9:13] == [("latex_env", "close", 8)] + [(None, "none", None)] * 3


def test_brackets_latex_left_right() -> None:
    # "\left( x \right)": the "(" belongs to \left, so it is a latex_delim, not a round bracket.
    got = brackets(["\\left", "(", " x", " \\right", ")"], "latex")
    assert got[1:] == [
        ("latex_delim", "open", None),
        ("latex_delim", "open", None),
        (None, "none", None),
        ("latex_delim", "close", 3),
        ("latex_delim", "close", 4),
    ]


def test_brackets_inside_python_string_do_not_pair_with_code() -> None:
    # 'f("(", 1)': the "(" inside the string is an opener, but the final ")" closes the call's "(" (pos 2,
    # in the token '("'), not the one in the string (pos 3).
    got = brackets(["f", '("', "(", '",', " 1", ")"], "python")
    assert got[2] == ("round", "open", None)
    assert got[3] == ("round", "open", None)
    assert got[6] == ("round", "close", 4)


def test_brackets_pair_within_one_string_across_its_lexemes() -> None:
    # 'x = "f(%s)" % g(y)': Pygments cuts the string into '"', 'f(', '%s', ')', '"'; its brackets still
    # pair with each other ('")' at pos 7 closes '(%' at pos 5), and the call's ")" closes the "(" at pos 10.
    got = brackets(["x", " =", ' "', "f", "(%", "s", ')"', " %", " g", "(", "y", ")"], "python")
    assert got[7] == ("round", "close", 2)
    assert got[12] == ("round", "close", 2)


def test_brackets_prose_parentheses_and_unmatched_closer() -> None:
    # "a) b (c)": the first ")" has no opener.
    got = brackets(["a", ")", " b", " (", "c", ")"], "books")
    assert got[2] == ("round", "close", None)
    assert got[6] == ("round", "close", 2)


def test_brackets_mismatched_kinds_skip_unclosed_openers() -> None:
    # "([)]" style: "[" left open when ")" closes "(".
    got = brackets(["(", "[", ")", "]"], "python")
    assert got[3] == ("round", "close", 2)
    assert got[4] == ("square", "close", None)


def test_brackets_tags_are_not_read_outside_markup() -> None:
    assert [d.kind for d in find_delimiters("if a<b and c>d: pass", "python")] == []
    assert [d.kind for d in find_delimiters("<b>x</b>", "html")] == ["html_tag", "html_tag"]


def test_brackets_opener_in_text_no_token_covers() -> None:
    # Text "(a)" with tokens only for "a" and ")": the ")" closes, but no token holds its opener.
    doc = DocumentTokens(
        doc_id="d",
        domain="books",
        text="(a)",
        token_ids=np.array([0, 1, 2]),
        char_start=np.array([-1, 1, 2]),
        char_end=np.array([-1, 2, 3]),
    )
    kinds, sides, dists = bracket_columns(doc, None)
    assert (kinds[2], sides[2], dists[2]) == ("round", "close", None)
