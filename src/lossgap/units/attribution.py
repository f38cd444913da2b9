"""Sharing each token's loss among the units (words or bytes) it covers, so that units of different
tokenizers can be compared.

The rule, as Marin's perplexity-gap report does: a token's loss is spread evenly over the UTF-8 bytes of its
characters, and a unit's loss is the sum over its bytes. A token inside one word gives that word all its loss;
a token that straddles a boundary (" don" + "'t", "):" in code) gives each unit the share of its bytes.
Bytes, not characters, because they are what every tokenizer encodes (byte-level BPE splits characters, not
bytes) and what bits per byte counts; an even share, because nothing in a single token's probability says
which of its bytes were hard. A zero-width token (a special token such as an end-of-text token the
tokenizer appends, or an empty span) gives its loss to the unit where it stands: the one holding the last
byte of the token before it.

Every scored token's loss goes to some unit, so each document's total loss is conserved exactly (up to float64
rounding). A unit is *complete* for a model when every one of its bytes lies in a scored token; units that are
not (text no token covers, the first word when a model scores no prefix) are counted and left out of
comparisons.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ATTRIBUTION", "unit_losses"]

ATTRIBUTION = (
    "each token's loss spread evenly over its UTF-8 bytes, a unit's loss the sum over its bytes; zero-width tokens "
    "give theirs to the unit of the byte before them"
)


def unit_losses(
    unit_byte_end: np.ndarray,
    token_byte_start: np.ndarray,
    token_byte_end: np.ndarray,
    token_loss: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(loss, complete) of each unit of one document: float64 sums of the shares of `token_loss`, and whether
    every byte of the unit is covered by a scored token.

    `unit_byte_end` is cumulative (unit i owns [end[i-1], end[i]), unit 0 from byte 0); tokens are the
    document's scored tokens in position order, with byte spans (start == end: zero width).
    """
    n_bytes = int(unit_byte_end[-1]) if len(unit_byte_end) else 0
    loss = np.zeros(len(unit_byte_end), np.float64)
    if n_bytes == 0:
        return loss, np.zeros(len(unit_byte_end), bool)
    a = np.asarray(token_byte_start, np.int64)
    b = np.asarray(token_byte_end, np.int64)
    value = np.asarray(token_loss, np.float64)
    if len(b) and (int(b.max()) > n_bytes or int(a.min()) < 0):
        raise ValueError(f"a token's bytes [{int(a.min())}, {int(b.max())}) fall outside the text's {n_bytes} bytes")
    wide = b > a
    # every byte of every wide token, with the token's share (a byte two tokens claim gets both shares)
    lengths = (b - a)[wide]
    first = np.repeat(a[wide], lengths)
    offset = np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    byte = first + offset
    mass = np.bincount(byte, weights=np.repeat(value[wide] / lengths, lengths), minlength=n_bytes)[:n_bytes]
    covered = np.bincount(byte, minlength=n_bytes)[:n_bytes] > 0
    # zero-width tokens: at the last byte of the token before them (byte 0 for a first token)
    if (~wide).any():
        prev_end = np.maximum.accumulate(np.where(wide, b, 0))
        anchor = np.concatenate([[0], prev_end[:-1]])[~wide]
        np.add.at(mass, np.clip(anchor - 1, 0, n_bytes - 1), value[~wide])
    bounds = np.concatenate([[0], np.asarray(unit_byte_end, np.int64)])
    empty = bounds[1:] == bounds[:-1]
    starts = np.minimum(bounds[:-1], n_bytes - 1)
    loss = np.add.reduceat(mass, starts)
    loss[empty] = 0.0  # reduceat gives the next element for an empty range
    n_covered = np.add.reduceat(covered.astype(np.int64), starts)
    n_covered[empty] = 0
    complete = (n_covered == np.diff(bounds)) & ~empty
    return loss, complete
