from __future__ import annotations

import math

import pytest

from lossgap.features.position import annotate_position
from lossgap.features.text import annotate_text
from tests.features.make import chunk_of, make_doc, resources


def test_position_log10_and_null_bos() -> None:
    doc = make_doc(["a"] * 10)
    got = annotate_position(chunk_of(doc), resources())["log_pos"].to_pylist()
    assert got[0] is None
    assert got[1:] == pytest.approx([math.log10(p) for p in range(1, 11)])
    assert got[10] == pytest.approx(1.0)


def test_text_token_text_and_domain() -> None:
    first = make_doc(["Hello", ",", " world"], "news", "n")
    second = make_doc(["x", " =", " 1"], "python", "p")
    cols = annotate_text(chunk_of(first, second), resources())
    assert cols["token_text"].to_pylist() == [None, "Hello", ",", " world", None, "x", " =", " 1"]
    assert cols["domain"].to_pylist() == ["news"] * 4 + ["python"] * 4
