"""Probe marks on tokens: for documents made by `lossgap probes`, which tokens test the probe's ability.

Reads the run's probes.parquet (character spans; `lossgap.probes.generate` says what each probe marks) and writes:

- `probe`: the probe of the token's document (copy, recall, tracking, pronoun, brackets, copy_distance), null
  elsewhere;
- `probe_mark`: true for the tokens that test the ability: a token whose first visible character lies in a
  mark's target span (the first such token left out where the mark says so: a copy's first word); for a mark
  with a container (`within_start`/`within_end`: a closing tag, whose target is its name), a token that overlaps
  the target and lies wholly within the container;
- `probe_level`: the mark's difficulty on marked tokens and on its source's tokens (copy: words in the string;
  recall: pairs; tracking: moves; pronoun: filler sentences; brackets: the bracket's nesting depth;
  copy_distance: filler sentences between the copies), null elsewhere;
- `probe_distance`: on marked tokens, tokens back from the mark's first token to the token where its source
  starts (what the target depends on: the first copy, the queried pair, the last move, the pronoun statement,
  the opening bracket), in the model's own tokens;
- `probe_source`: true for the tokens of a mark's source, by the same rule as `probe_mark` (a copy's first token
  left out likewise). For `copy` and `copy_distance` the source is the first copy of the string: the same words
  as the marked tokens, met for the first time, so the loss on them is what the second copy costs a model that
  does not copy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from lossgap.features.records import Chunk, Resources

__all__ = ["PROBE_COLUMNS", "annotate_probes"]

PROBE_COLUMNS = ("probe", "probe_mark", "probe_level", "probe_distance", "probe_source")


def annotate_probes(chunk: Chunk, resources: Resources) -> dict[str, pa.Array]:
    marks = resources.probe_marks or {}
    probe: list[str | None] = []
    mark, level, distance, source = [], [], [], []
    for doc in chunk.docs:
        n = doc.n_tokens
        doc_mark = np.zeros(n, bool)
        doc_level = np.full(n, -1, np.int64)
        doc_distance = np.full(n, -1, np.int64)
        doc_source = np.zeros(n, bool)
        found = marks.get(doc.doc_id, [])
        first, last = doc.visible_span()
        for (
            _probe,
            lvl,
            _start,
            _end,
            src_start,
            src_end,
            skip_first,
            *_,
        ) in found:  # sources first: a mark's level wins
            sourced = np.flatnonzero((first >= src_start) & (first < src_end))
            sourced = sourced[1:] if skip_first else sourced
            doc_source[sourced] = True
            doc_level[sourced] = lvl
        for _probe, lvl, start, end, src_start, _src_end, skip_first, within_start, within_end in found:
            if within_start >= 0:  # overlaps the target, lies within the container
                inside = np.flatnonzero((first >= 0) & (first < end) & (last >= start) & (doc.char_start >= within_start)
                                        & (doc.char_end <= within_end))  # fmt: skip
            else:
                inside = np.flatnonzero((first >= start) & (first < end))
            if skip_first:
                inside = inside[1:]
            if not inside.size:
                continue
            # the source's first token: the first (with characters) that ends after src_start
            reach = np.flatnonzero((doc.char_end > src_start) & (doc.char_start >= 0))
            src_token = int(reach[0]) if reach.size else int(inside[0])
            doc_mark[inside] = True
            doc_level[inside] = lvl
            doc_distance[inside] = inside - src_token
        name = found[0][0] if found else None
        probe += [name] * n
        mark.append(doc_mark)
        level.append(doc_level)
        distance.append(doc_distance)
        source.append(doc_source)
    mark_all = np.concatenate(mark + [np.zeros(0, bool)])
    level_all = np.concatenate(level + [np.zeros(0, np.int64)])
    distance_all = np.concatenate(distance + [np.zeros(0, np.int64)])
    source_all = np.concatenate(source + [np.zeros(0, bool)])
    return {
        "probe": pa.array(probe, pa.string()),
        "probe_mark": pa.array(mark_all, pa.bool_()),
        "probe_level": pa.array(level_all, pa.int32(), mask=level_all < 0),
        "probe_distance": pa.array(distance_all, pa.int32(), mask=~mark_all),
        "probe_source": pa.array(source_all, pa.bool_()),
    }
