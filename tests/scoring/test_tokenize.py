import pyarrow as pa
import pytest
from transformers import AutoTokenizer

from lossgap.errors import TokenizerMismatchError
from lossgap.scoring.tokenize import check_same_tokens, prefix_policy, tokenize_documents
from tests.conftest import TEXTS
from tests.tiny_models import train_tokenizer


def test_prefix_policy_prepends_bos_when_the_tokenizer_adds_none(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    policy = prefix_policy(tok)
    assert (policy.token_id, policy.added_by_tokenizer) == (tok.bos_token_id, False)


def test_prefix_policy_falls_back_to_eos(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    tok.bos_token = None
    assert prefix_policy(tok).token_id == tok.eos_token_id


def test_prefix_policy_keeps_a_bos_the_tokenizer_adds(tmp_path):
    tok = AutoTokenizer.from_pretrained(train_tokenizer(tmp_path, TEXTS, add_bos=True))
    policy = prefix_policy(tok)
    assert policy.added_by_tokenizer and policy.token_id == tok.convert_tokens_to_ids("<|bos|>")
    table = tokenize_documents(tok, ["d"], ["the cat"], policy)
    assert table.column("token_id").to_pylist()[0] == policy.token_id
    assert table.column("char_start").to_pylist()[0] == -1


def test_tokenize_documents_offsets_tile_the_text(tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    texts = ["The cat sat  on the mat.\n\nThere it is.", "ünïcödé 🙂 text", "x"]
    table = tokenize_documents(tok, ["a", "b", "c"], texts, prefix_policy(tok))
    for doc, text in zip(["a", "b", "c"], texts, strict=True):
        rows = table.filter(pa.compute.equal(table.column("doc_id"), doc)).to_pylist()
        assert [r["pos"] for r in rows] == list(range(len(rows)))
        assert rows[0]["token_id"] == tok.bos_token_id and rows[0]["char_start"] == rows[0]["char_end"] == -1
        # Re-tokenizing gives the same ids, and the spans cover the text from start to end.
        assert [r["token_id"] for r in rows[1:]] == tok(text, add_special_tokens=False)["input_ids"]
        assert rows[1]["char_start"] == 0 and rows[-1]["char_end"] == len(text)
        for prev, cur in zip(rows[1:], rows[2:], strict=False):
            assert cur["char_start"] <= prev["char_end"]  # no character belongs to no token


def _tokens(doc_ids, ids):
    return pa.table({"doc_id": doc_ids, "pos": [0, 1, 2, 0, 1][: len(ids)], "token_id": ids})


def test_check_same_tokens_names_first_difference():
    expected = _tokens(["a", "a", "a", "b", "b"], [1, 5, 6, 1, 7])
    check_same_tokens(expected, expected, "m")
    with pytest.raises(
        TokenizerMismatchError, match=r"document 'b', position 1: run has token id 7, m gives token id 8"
    ):
        check_same_tokens(expected, _tokens(["a", "a", "a", "b", "b"], [1, 5, 6, 1, 8]), "m")
    shorter = pa.table({"doc_id": ["a", "a", "b", "b"], "pos": [0, 1, 0, 1], "token_id": [1, 5, 1, 7]})
    with pytest.raises(TokenizerMismatchError, match=r"document 'a', position 2: .*the end of the document"):
        check_same_tokens(expected, shorter, "m")


def test_tokens_fingerprint_depends_on_content_not_layout():
    from lossgap.scoring.tokenize import tokens_fingerprint

    table = pa.table({"doc_id": ["a", "a", "b", "b", "b"], "pos": [0, 1, 0, 1, 2], "token_id": [1, 5, 1, 7, 8]})
    rechunked = pa.concat_tables([table.slice(0, 2), table.slice(2)])
    assert tokens_fingerprint(rechunked) == tokens_fingerprint(table)
    moved = pa.table({"doc_id": ["a", "a", "a", "b", "b"], "pos": [0, 1, 2, 0, 1], "token_id": [1, 5, 1, 7, 8]})
    assert tokens_fingerprint(moved) != tokens_fingerprint(table)  # same ids, other document boundaries
