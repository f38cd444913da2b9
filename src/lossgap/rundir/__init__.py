"""The run directory, one owner of every file in it: schemas, validated readers, atomic and streaming writers,
the typed manifest, the results table, and the context policy that scoring and annotate share.

Names are imported lazily, so that light modules (configs, the CLI) can use `lossgap.rundir.names` without
importing pyarrow and pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossgap._lazy import lazy_exports

_WHERE = {
    "atomic_path": "atomic", "write_text_atomic": "atomic",
    "PRESETS": "categories", "HEADLINE": "categories", "PROBE_GROUPING": "categories", "PROBE_SOURCE_GROUPING": "categories", "DEFAULT_MASKS": "categories", "REPEAT_LEN_BINS": "categories",
    "repeat_len_bin_sql": "categories", "Mask": "categories", "resolve_mask": "categories", "check_masks": "categories",
    "document_runs": "documents",
    "ContextPolicy": "context", "Window": "context", "visible_segments": "context", "widest": "context",
    "from_json": "jsonable", "to_json": "jsonable",
    "CorpusRecord": "manifest", "FeaturesRecord": "manifest", "Manifest": "manifest", "ModelContext": "manifest",
    "ModelRecord": "manifest", "PipelineRecord": "manifest", "StageRecord": "manifest", "TokenizerRecord": "manifest",
    "UnitRecord": "manifest", "ProbesRecord": "manifest", "COPY_PROBES": "manifest", "PROBE_LEVELS": "manifest",
    "UnitScoring": "manifest", "UnitSource": "manifest",
    "validate_name": "names",
    "ScoreParts": "parts",
    "RESULTS": "results", "ResultRecord": "results", "default_result_name": "names", "file_kind": "results", "Column": "results", "HeadlineRow": "results", "ResultsTable": "results", "Summary": "results", "DiscoverSummary": "results",
    "FeaturesWriter": "rundir", "RunDir": "rundir", "as_rundir": "rundir", "FEATURE_COLUMNS_ALL": "rundir",
    "CORPUS_SCHEMA": "schemas", "FEATURES_SCHEMA": "schemas", "SCORES_SCHEMA": "schemas", "TOKENS_SCHEMA": "schemas",
    "PROBES_SCHEMA": "schemas", "PROBES_ADDED": "schemas",
    "check_schema": "schemas",
}  # fmt: skip

__all__ = [
    "CORPUS_SCHEMA",
    "DEFAULT_MASKS",
    "Column",
    "ContextPolicy",
    "CorpusRecord",
    "DiscoverSummary",
    "FEATURES_SCHEMA",
    "FEATURE_COLUMNS_ALL",
    "FeaturesRecord",
    "FeaturesWriter",
    "HEADLINE",
    "HeadlineRow",
    "Manifest",
    "Mask",
    "ModelContext",
    "ModelRecord",
    "UnitScoring",
    "UnitSource",
    "PRESETS",
    "COPY_PROBES",
    "PROBE_LEVELS",
    "ProbesRecord",
    "PROBE_GROUPING",
    "PROBE_SOURCE_GROUPING",
    "PROBES_SCHEMA",
    "PROBES_ADDED",
    "PipelineRecord",
    "REPEAT_LEN_BINS",
    "RESULTS",
    "ResultRecord",
    "ResultsTable",
    "RunDir",
    "SCORES_SCHEMA",
    "ScoreParts",
    "StageRecord",
    "Summary",
    "TOKENS_SCHEMA",
    "TokenizerRecord",
    "UnitRecord",
    "as_rundir",
    "default_result_name",
    "file_kind",
    "Window",
    "atomic_path",
    "check_masks",
    "check_schema",
    "document_runs",
    "from_json",
    "repeat_len_bin_sql",
    "resolve_mask",
    "to_json",
    "validate_name",
    "visible_segments",
    "widest",
    "write_text_atomic",
]


__getattr__ = lazy_exports(__name__, _WHERE)

if TYPE_CHECKING:
    from lossgap.rundir.atomic import atomic_path, write_text_atomic
    from lossgap.rundir.categories import (
        HEADLINE,
        PRESETS,
        PROBE_GROUPING,
        PROBE_SOURCE_GROUPING,
        REPEAT_LEN_BINS,
        Mask,
        check_masks,
        repeat_len_bin_sql,
        resolve_mask,
    )
    from lossgap.rundir.context import ContextPolicy, Window, visible_segments, widest
    from lossgap.rundir.documents import document_runs
    from lossgap.rundir.jsonable import from_json, to_json
    from lossgap.rundir.manifest import (
        COPY_PROBES,
        PROBE_LEVELS,
        CorpusRecord,
        FeaturesRecord,
        Manifest,
        ModelContext,
        ModelRecord,
        PipelineRecord,
        ProbesRecord,
        StageRecord,
        TokenizerRecord,
        UnitRecord,
        UnitScoring,
        UnitSource,
    )
    from lossgap.rundir.names import validate_name
    from lossgap.rundir.parts import ScoreParts
    from lossgap.rundir.results import RESULTS, Column, DiscoverSummary, HeadlineRow, ResultsTable, Summary
    from lossgap.rundir.rundir import FEATURE_COLUMNS_ALL, FeaturesWriter, RunDir
    from lossgap.rundir.schemas import (
        CORPUS_SCHEMA,
        FEATURES_SCHEMA,
        PROBES_ADDED,
        PROBES_SCHEMA,
        SCORES_SCHEMA,
        TOKENS_SCHEMA,
        check_schema,
    )
