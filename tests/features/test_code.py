from __future__ import annotations

from lossgap.features.code import annotate_code, code_class_of
from tests.features.make import chunk_of, make_doc, resources


def classes(pieces, domain):  # type: ignore[no-untyped-def]
    cols = annotate_code(chunk_of(make_doc(pieces, domain)), resources())
    return cols["code_class"].to_pylist(), cols["code_type"].to_pylist()


def test_code_python_classes() -> None:
    # 'def f(x):\n    return "a)"  # done'
    pieces = ["def", " f", "(x", "):", "\n   ", " return", ' "', "a)", '"', "  #", " done"]
    got, types = classes(pieces, "python")
    assert got == [
        None,
        "Keyword",
        "Name",
        "Punctuation",
        "Punctuation",
        "Whitespace",
        "Keyword",
        "String",
        "String",
        "String",
        "Comment",
        "Comment",
    ]
    assert types[2] == "Name.Function"


def test_code_html_and_latex() -> None:
    got, _ = classes(["<", "div", ">", "hi", "</", "div", ">"], "html")
    assert got[1:] == ["Punctuation", "Name", "Punctuation", "Text", "Punctuation", "Name", "Punctuation"]
    got, types = classes(["\\section", "{", "A", "}"], "latex")
    assert types[1] == "Keyword"


def test_code_prose_and_unknown_domains_get_nulls() -> None:
    assert classes(["Hello", " world"], "books")[0] == [None, None, None]
    assert classes(["Hello", " world"], "no-such-language")[0] == [None, None, None]


def test_code_unparsable_code_still_gets_a_class_per_token() -> None:
    got, _ = classes(["def", " (", ":", "\n", "  ]]", " \x00", "'''"], "python")
    assert len(got) == 8 and all(c is not None for c in got[1:])


def test_code_class_of_mapping() -> None:
    assert code_class_of("Literal.String.Double") == "String"
    assert code_class_of("Literal.Number.Integer") == "Number"
    assert code_class_of("Name.Builtin.Pseudo") == "Name"
    assert code_class_of("Text.Whitespace") == "Whitespace"
    assert code_class_of("Text") == "Text"
