"""The masks file: a run's evaluation documents as token ids, and one boolean mask per named filter, in one
compact .npz that a training job reads with numpy alone.

Alignment (`align`):

- `token` (default): mask[i] says whether token i counts, and token i's loss is −log p(token i | tokens before
  it), as in scores/NAME.parquet. Position 0 of a document (its prefix token) has no loss and is never masked.
- `input`: shifted left by one for code that computes a loss at *input* position i for predicting token i + 1
  and masks those losses directly: mask_input[i] = mask_token[i + 1], and the last position is never masked.

Layout: `token_ids` (int32, every document's tokens one after another), `doc_offsets` (int64, n_docs + 1),
`doc_ids`, `mask_names`, `masks` (bits, numpy.packbits of a [n_masks, n_tokens] bool array), and `meta` (JSON:
alignment, each mask's condition, the tokenizer's fingerprint and prefix token).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lossgap.errors import ConfigError, RunDirError
from lossgap.rundir.categories import DEFAULT_MASKS

__all__ = ["Align", "MasksFile", "DEFAULT_MASKS", "export_masks"]

Align = Literal["token", "input"]


@dataclass(frozen=True)
class MasksFile:
    """Documents and masks for an in-loop evaluator (see the module docstring)."""

    token_ids: np.ndarray  # int32 (n_tokens,)
    doc_offsets: np.ndarray  # int64 (n_docs + 1,)
    doc_ids: tuple[str, ...]
    masks: dict[str, np.ndarray]  # name -> bool (n_tokens,)
    align: Align = "token"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_docs(self) -> int:
        return len(self.doc_ids)

    def documents(self) -> list[np.ndarray]:
        """Each document's token ids."""
        return np.split(self.token_ids, self.doc_offsets[1:-1])

    def token_aligned(self, name: str) -> np.ndarray:
        """Mask `name` with mask[i] about token i, whatever the file's alignment."""
        mask = self.masks[name]
        if self.align == "token":
            return mask
        out = np.zeros_like(mask)
        out[1:] = mask[:-1]
        return out & ~np.isin(np.arange(mask.size), self.doc_offsets[:-1])

    def save(self, path: Path | str) -> Path:
        """Write the .npz atomically; returns its path."""
        from lossgap.rundir.atomic import atomic_path

        path = Path(path)
        names = list(self.masks)
        bits = np.packbits(np.stack([self.masks[n] for n in names]) if names else np.zeros((0, 0), bool), axis=1)
        meta = {**self.meta, "align": self.align, "n_tokens": int(self.token_ids.size)}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, token_ids=self.token_ids, doc_offsets=self.doc_offsets,
                                    doc_ids=np.array(self.doc_ids, dtype=str), mask_names=np.array(names, dtype=str),
                                    masks=bits, meta=np.array(json.dumps(meta)))  # fmt: skip
        return path

    @classmethod
    def load(cls, path: Path | str) -> MasksFile:
        """Read a masks file written by `save` (numpy only)."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                n = int(meta["n_tokens"])
                bits = np.unpackbits(data["masks"], axis=1, count=n).astype(bool) if data["masks"].size else None
                names = [str(x) for x in data["mask_names"]]
                return cls(
                    token_ids=data["token_ids"].astype(np.int32),
                    doc_offsets=data["doc_offsets"].astype(np.int64),
                    doc_ids=tuple(str(x) for x in data["doc_ids"]),
                    masks={name: bits[k] for k, name in enumerate(names)} if bits is not None else {},
                    align=meta.pop("align"),
                    meta=meta,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"{path}: not a lossgap masks file ({exc}); write one with `lossgap masks`") from exc


def export_masks(run: Any, masks: tuple[str, ...] = DEFAULT_MASKS, align: Align = "token") -> MasksFile:
    """The masks file of a run: its documents' token ids and each mask's flags (a preset or a SQL condition
    over the features, checked first), aligned as `align` says."""
    import duckdb

    from lossgap.rundir import FEATURE_COLUMNS_ALL, as_rundir, check_masks, resolve_mask

    if align not in ("token", "input"):
        raise ConfigError(f"--align {align!r}: choose token or input")
    run = as_rundir(run)
    tokens = run.read("tokens", ["doc_id", "pos", "token_id"])
    resolved = [resolve_mask(m) for m in masks]
    con = duckdb.connect()
    try:
        run.view(con, "features", "features")
        counts = check_masks(con, resolved, "features", drop_empty=tuple(masks) == DEFAULT_MASKS)
        resolved = [m for m in resolved if m.name in counts]
        run.token_view(con, "joined", tokens=(), features=FEATURE_COLUMNS_ALL)  # every token, features where annotated
        flags = ", ".join(
            f"coalesce(CAST(({m.condition}) AS BOOLEAN), false) AND pos > 0 AS m{i}" for i, m in enumerate(resolved)
        )
        table = con.execute(f"SELECT doc_id, pos, {flags} FROM joined").df()
    finally:
        con.close()
    # back to the token table's own order (documents as scored, positions ascending)
    order = {d: k for k, d in enumerate(dict.fromkeys(tokens.column("doc_id").to_pylist()))}
    table = table.assign(_doc=table["doc_id"].map(order)).sort_values(["_doc", "pos"], kind="stable")
    if len(table) != tokens.num_rows:
        raise RunDirError(f"{run.path}: the features do not cover the tokens; re-run `lossgap annotate`")
    ids = tokens.column("token_id").to_numpy().astype(np.int32)
    starts = np.flatnonzero(tokens.column("pos").to_numpy() == 0)
    offsets = np.append(starts, ids.size).astype(np.int64)
    flags_by_name = {m.name: table[f"m{i}"].to_numpy(bool) for i, m in enumerate(resolved)}
    if align == "input":
        for name, mask in flags_by_name.items():
            shifted = np.zeros_like(mask)
            shifted[:-1] = mask[1:]
            shifted[offsets[1:] - 1] = False  # a document's last position predicts nothing of it
            flags_by_name[name] = shifted
    manifest = run.manifest()
    meta = {"conditions": {m.name: m.condition for m in resolved}, "run": str(run.path),
            "tokenizer": None if manifest.tokenizer is None else manifest.tokenizer.fingerprint,
            "prefix_token_id": None if manifest.tokenizer is None else manifest.tokenizer.prefix_token_id}  # fmt: skip
    doc_ids = tuple(str(d) for d in order)
    return MasksFile(token_ids=ids, doc_offsets=offsets, doc_ids=doc_ids, masks=flags_by_name, align=align, meta=meta)
