"""Tokenizing the corpus into the run's token table, and checking a second tokenizer against it.

Every document starts with one special *prefix* token at pos 0 so that the first real token has a defined
loss: the tokenizer's own BOS when it adds one, otherwise its BOS token (or, lacking one, its EOS token,
as lm-evaluation-harness does) prepended by lossgap. Special tokens get char_start = char_end = -1.
Character spans tile the text: a token owns any characters between the previous token's end and its own
start (tokenizers that trim the leading space of " cats" would otherwise leave that space to nobody).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lossgap.errors import ConfigError, TokenizerMismatchError
from lossgap.rundir import TOKENS_SCHEMA

__all__ = [
    "PrefixPolicy",
    "prefix_policy",
    "tokenize_documents",
    "tokens_fingerprint",
    "vocab_fingerprint",
    "check_same_tokens",
]

_ENCODE_BATCH = 256


@dataclass(frozen=True)
class PrefixPolicy:
    """How pos 0 of every document is filled: `added_by_tokenizer`, or `token_id` prepended by lossgap."""

    token_id: int
    added_by_tokenizer: bool
    description: str


def prefix_policy(tokenizer) -> PrefixPolicy:  # type: ignore[no-untyped-def]
    """Decide the prefix token for `tokenizer` (see the module docstring)."""
    enc = tokenizer("a", add_special_tokens=True, return_special_tokens_mask=True)
    ids, special = enc["input_ids"], enc["special_tokens_mask"]
    if ids and special[0] == 1:
        return PrefixPolicy(int(ids[0]), True, f"the tokenizer's own BOS token (id {ids[0]})")
    for attr in ("bos_token_id", "eos_token_id"):
        token_id = getattr(tokenizer, attr, None)
        if token_id is not None:
            what = "BOS" if attr == "bos_token_id" else "EOS (the tokenizer has no BOS)"
            return PrefixPolicy(int(token_id), False, f"prepended {what} token (id {token_id})")
    raise ConfigError(
        "the tokenizer neither adds a BOS token nor defines a BOS or EOS token, so the first token of a "
        "document would have no context; use a tokenizer with a BOS or EOS token"
    )


def _document_rows(
    ids: list[int], offsets: list[tuple[int, int]], special: list[int], policy: PrefixPolicy
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    token_ids = np.asarray(ids, dtype=np.int64)
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    is_special = np.asarray(special, dtype=bool)
    if not policy.added_by_tokenizer:
        token_ids = np.concatenate([[policy.token_id], token_ids])
        spans = np.concatenate([[[0, 0]], spans])
        is_special = np.concatenate([[True], is_special])
    starts, ends = spans[:, 0].copy(), spans[:, 1].copy()
    # Tile: a token starts where the previous real token ended if the tokenizer left a gap (trimmed spaces).
    prev_end = 0
    for i in np.flatnonzero(~is_special):
        if starts[i] > prev_end:
            starts[i] = prev_end
        prev_end = max(prev_end, ends[i])
    starts[is_special] = -1
    ends[is_special] = -1
    return token_ids, starts, ends


def tokenize_documents(tokenizer, doc_ids: list[str], texts: list[str], policy: PrefixPolicy) -> pa.Table:  # type: ignore[no-untyped-def]
    """The token table (TOKENS_SCHEMA) of `texts`, in document order."""
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("lossgap needs a fast (Rust) tokenizer for character offsets; this model has a slow one")
    cols: dict[str, list[np.ndarray]] = {"doc_id": [], "pos": [], "token_id": [], "char_start": [], "char_end": []}
    doc_col: list[pa.Array] = []
    for lo in range(0, len(texts), _ENCODE_BATCH):
        batch = texts[lo : lo + _ENCODE_BATCH]
        enc = tokenizer(
            batch,
            add_special_tokens=policy.added_by_tokenizer,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_attention_mask=False,
        )
        for j in range(len(batch)):
            token_ids, starts, ends = _document_rows(
                enc["input_ids"][j], enc["offset_mapping"][j], enc["special_tokens_mask"][j], policy
            )
            n = len(token_ids)
            doc_col.append(pa.array([doc_ids[lo + j]] * n, pa.string()))
            cols["pos"].append(np.arange(n, dtype=np.int32))
            cols["token_id"].append(token_ids.astype(np.int32))
            cols["char_start"].append(starts.astype(np.int32))
            cols["char_end"].append(ends.astype(np.int32))
    if not doc_col:
        return TOKENS_SCHEMA.empty_table()
    return pa.table(
        {
            "doc_id": pa.concat_arrays(doc_col),
            **{k: np.concatenate(v) for k, v in cols.items() if k != "doc_id"},
        },
        schema=TOKENS_SCHEMA,
    )


def tokens_fingerprint(tokens: pa.Table) -> str:
    """sha256 over document ids, lengths and token ids: equal iff two token tables hold the same tokens."""
    starts = np.flatnonzero(tokens.column("pos").to_numpy() == 0)
    doc_ids = tokens.column("doc_id").take(pa.array(starts)).to_pylist()
    lengths = np.diff(np.append(starts, tokens.num_rows))
    h = hashlib.sha256()
    h.update("\0".join(doc_ids).encode("utf-8", "surrogatepass"))
    h.update(lengths.astype("<i8").tobytes())
    h.update(tokens.column("token_id").to_numpy().astype("<i4").tobytes())
    return h.hexdigest()


def vocab_fingerprint(tokenizer) -> str:  # type: ignore[no-untyped-def]
    """sha256 over the tokenizer's vocabulary (every token string with its id, added tokens included): what a
    tokenizer claims to be. Two tokenizers with the same vocabulary must tokenize a corpus the same way."""
    h = hashlib.sha256()
    for token, token_id in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1]):
        h.update(f"{token_id}\t{token}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def check_same_tokens(expected: pa.Table, actual: pa.Table, model: str, claim: str = "") -> None:
    """Raise TokenizerMismatchError naming the first document and position whose token ids differ; `claim` says
    why they had to be the same (the message's first words)."""
    claim = claim or f"the tokenizer of {model} does not match this run's tokens"
    exp_docs = expected.column("doc_id").to_numpy(zero_copy_only=False)
    act_docs = actual.column("doc_id").to_numpy(zero_copy_only=False)
    exp_ids = expected.column("token_id").to_numpy()
    act_ids = actual.column("token_id").to_numpy()
    exp_pos = expected.column("pos").to_numpy()
    n = min(len(exp_ids), len(act_ids))
    differ = np.flatnonzero((exp_ids[:n] != act_ids[:n]) | (exp_docs[:n] != act_docs[:n]))
    if len(differ) == 0 and len(exp_ids) == len(act_ids):
        return
    i = int(differ[0]) if len(differ) else n
    if i < len(exp_ids):
        doc, pos = exp_docs[i], int(exp_pos[i])
        same_doc = i < len(act_ids) and act_docs[i] == doc
        got = f"token id {int(act_ids[i])}" if same_doc else "the end of the document"
        raise TokenizerMismatchError(
            f"{claim}: document {doc!r}, position {pos}: run has token id {int(exp_ids[i])}, {model} gives {got}"
        )
    raise TokenizerMismatchError(
        f"{claim}: document {act_docs[i]!r} has more tokens ({model} gives token id {int(act_ids[i])} at position {i})"
    )
