import json
import math

import numpy as np
import pytest

from lossgap.report import ReportConfig
from lossgap.report.load import read_results
from lossgap.report.viewer import (
    choose_documents,
    color_scale,
    load_viewer,
    script_json,
    split_text,
)

from .synthetic import DOCS, make_run


def test_split_text_reconstructs_text_and_handles_gaps_overlaps_and_specials():
    text = "ab  cd\u00e9f"
    # tokens: "ab", (gap "  "), "cd", a special token, "é" twice (byte pieces of one char), "f"
    starts = [0, 4, -1, 6, 6, 7]
    ends = [2, 6, -1, 7, 7, 8]
    pre, own = split_text(text, starts, ends, from_start=True)
    assert own == ["ab", "cd", "", "\u00e9", "", "f"]
    assert pre == ["", "  ", "", "", "", ""]
    assert "".join(p + o for p, o in zip(pre, own, strict=True)) == text


def test_split_text_window_inside_document_starts_at_its_first_token():
    pre, own = split_text("hello world again", [5, 11], [11, 17], from_start=False)
    assert (pre, own) == (["", ""], [" world", " again"])


def test_color_scale_rounds_95th_percentile_up_to_1_2_5():
    # |gap| = 0.01 .. 1.00; numpy's linear 95th percentile of 100 values is 0.9505 -> 1.0
    assert color_scale(np.linspace(-1.0, -0.01, 100)) == 1.0
    assert color_scale(np.array([0.0, 0.13, -0.13, np.nan])) == 0.2  # q95 = 0.13 -> 0.2
    assert color_scale(np.array([0.3] * 5)) == 0.5
    assert color_scale(np.array([2.0, -2.0])) == 2.0
    assert color_scale(np.array([np.nan])) == 1.0
    assert color_scale(np.zeros(3)) == 1.0


def test_script_json_cannot_close_a_script_element_and_round_trips():
    value = {"t": ["</script><script>alert(1)</script>", "<!--", "a & b", "\u2028x"], "n": 1.5}
    text = script_json(value)
    for bad in ("<", ">", "&", "\u2028"):
        assert bad not in text
    assert json.loads(text) == value


def test_choose_documents_user_first_then_tables_alternating_directions(synthetic_run):
    run, _ = synthetic_run
    results = read_results(run)
    picks = choose_documents(results, ReportConfig(extra_docs=("p1",)), ["b1", "b2", "p1"])
    # p1 (user), then top_segments rank 1: wins (p1, seen) then loses (b2 at 3), then top tokens rank 1 ...
    assert picks[0] == ("p1", None)
    assert picks[1] == ("b2", 3)
    assert {d for d, _ in picks} == {"b1", "b2", "p1", "h1"}
    assert len(choose_documents(results, ReportConfig(viewer_docs=1), [])) == 1


def test_choose_documents_falls_back_to_corpus_order_without_top_tables(synthetic_run):
    run, _ = synthetic_run
    for name in ("top_tokens.csv", "top_segments.csv", "top_documents.csv"):
        run.result_file(name).unlink()
    picks = choose_documents(read_results(run), ReportConfig(), ["b1", "b2"])
    assert picks == [("b1", None), ("b2", None)]


def test_load_viewer_carries_exact_losses_text_and_features(synthetic_run):
    run, frame = synthetic_run
    viewer = load_viewer(run, read_results(run), ReportConfig())
    assert viewer is not None and {d.doc_id for d in viewer.docs} == {"b1", "b2", "p1", "h1"}
    texts = {doc_id: text for doc_id, _, text in DOCS}
    for doc in viewer.docs:
        expected = frame[(frame["doc_id"] == doc.doc_id) & (frame["pos"] >= 1)]
        assert doc.pos == expected["pos"].tolist()
        assert "".join(p + t for p, t in zip(doc.pre, doc.text, strict=True)) == texts[doc.doc_id]
        assert doc.loss_baseline == pytest.approx(expected["loss_baseline"].tolist(), abs=1e-4)
        assert doc.loss_candidate == pytest.approx(expected["loss_candidate"].tolist(), abs=1e-4)
        sides = [viewer.vocab["bracket_side"][c] for c in doc.categorical["bracket_side"]]
        assert sides == expected["bracket_side"].tolist()
        assert doc.numeric["repeat_len"] == expected["repeat_len"].astype(float).tolist()
        bins = [viewer.vocab["repeat_len_bin"][c] for c in doc.categorical["repeat_len_bin"]]
        edges = {0: "0", 1: "1", 2: "2", 3: "3"}
        assert bins == [
            edges.get(int(r), "4-7" if r <= 7 else "8-15" if r <= 15 else "16+") for r in expected["repeat_len"]
        ]
        # the filter's "repeated" is the headline's: repeat_len >= 2
        assert doc.masks["repeated"] == [int(r >= 2) for r in expected["repeat_len"]]
        assert "" not in sum(viewer.vocab.values(), [])  # no empty filter values
        upos = [None if c < 0 else viewer.vocab["upos"][c] for c in doc.categorical["upos"]]
        assert upos == [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in expected["upos"].tolist()
        ]


def test_load_viewer_cuts_long_documents_to_a_window_around_the_focus(synthetic_run):
    run, frame = synthetic_run
    viewer = load_viewer(run, read_results(run), ReportConfig(viewer_tokens=16, extra_docs=("b1",)))
    doc = viewer.docs[0]
    n_scored = int((frame["doc_id"] == "b1").sum()) - 1
    assert n_scored > 16
    assert (doc.pos_start, doc.pos_end, len(doc.pos)) == (1, 17, 16)  # no focus: from the start
    b2 = next(d for d in viewer.docs if d.doc_id == "b2")
    assert b2.pos_start == 1  # the segment at pos 3 of b2: a third of 16 before it would be < 1
    assert viewer.anchor("b1", 16) == 0 and viewer.anchor("b1", 17) is None


@pytest.mark.parametrize("focus, window", [(20, (15, 31)), (30, (16, 32)), (3, (1, 17))])
def test_load_viewer_window_starts_a_third_before_focus(tmp_path, focus, window):
    # p1 has 31 scored tokens (positions 1..31); a window of 16 starts 16 // 3 = 5 before the focus,
    # never before position 1 and never so late that it would run past the document's end
    run, _ = make_run(tmp_path / "run")
    for name in ("top_segments.csv", "top_documents.csv"):
        run.result_file(name).unlink()
    run.result_file("top_tokens.csv").write_text(
        "direction,rank,doc_id,pos,domain,token_text,loss_baseline,loss_candidate,gap\n"
        f"candidate_wins,1,p1,{focus},python,x,1.0,0.5,0.5\n"
    )
    viewer = load_viewer(run, read_results(run), ReportConfig(viewer_tokens=16))
    doc = viewer.docs[0]
    assert (doc.doc_id, doc.n_positions) == ("p1", 32)
    assert (doc.pos_start, doc.pos_end) == window
    assert doc.pos == list(range(*window))


def test_load_viewer_without_features_or_one_score_still_shows_text(synthetic_run):
    run, _ = synthetic_run
    run.describe("features").unlink()
    run.scores_path("cand-full").unlink()
    viewer = load_viewer(run, read_results(run), ReportConfig())
    assert viewer.vocab == {}
    assert all(x is None for d in viewer.docs for x in d.loss_candidate)
    assert all(x is not None for d in viewer.docs for x in d.loss_baseline)


def test_load_viewer_none_when_disabled_or_no_tokens(synthetic_run):
    run, _ = synthetic_run
    assert load_viewer(run, read_results(run), ReportConfig(viewer_docs=0)) is None
    run.describe("tokens").unlink()
    assert load_viewer(run, read_results(run), ReportConfig()) is None


def test_window_text_is_the_exact_slice_even_with_non_ascii_text(tmp_path):
    # DuckDB cuts the text by characters (code points), as the token offsets count them
    text = "Café naïve — 東京 🙂 über " * 12 + "ende."
    run, frame = make_run(tmp_path / "run", docs=[("u1", "books", text)])
    for name in ("top_segments.csv", "top_documents.csv"):
        run.result_file(name).unlink()
    run.result_file("top_tokens.csv").write_text(
        "direction,rank,doc_id,pos,domain,token_text,loss_baseline,loss_candidate,gap\n"
        "candidate_wins,1,u1,30,books,x,1.0,0.5,0.5\n"
    )
    doc = load_viewer(run, read_results(run), ReportConfig(viewer_tokens=16)).docs[0]
    rows = frame[(frame["doc_id"] == "u1") & (frame["pos"] >= doc.pos_start) & (frame["pos"] < doc.pos_end)]
    assert doc.pos_start == 25 and len(doc.pos) == 16
    assert doc.text == rows["token_text"].tolist()
    expected = text[int(rows["char_start"].iloc[0]) : int(rows["char_end"].iloc[-1])]
    assert "".join(p + t for p, t in zip(doc.pre, doc.text, strict=True)) == expected


def test_documents_missing_from_the_corpus_take_no_viewer_slot(synthetic_run, caplog):
    run, _ = synthetic_run
    path = run.result_file("top_documents.csv")
    rows = path.read_text().splitlines()
    # a table row for a document the corpus does not have, ranked first
    rows.insert(1, "candidate_wins,0,ghost,books,5,1.0,5.0")
    path.write_text("\n".join(rows) + "\n")
    viewer = load_viewer(run, read_results(run), ReportConfig(viewer_docs=4, extra_docs=("nowhere",)))
    assert len(viewer.docs) == 4 and "ghost" not in {d.doc_id for d in viewer.docs}
    assert "'nowhere' is not in" in caplog.text


def test_choose_documents_goes_rank_by_rank_across_the_tables(synthetic_run):
    run, _ = synthetic_run
    run.result_file("top_segments.csv").write_text(
        "direction,rank,doc_id,pos_start,pos_end,n_tokens,mean_gap,sum_gap,text\n"
        "candidate_wins,1,h1,2,4,2,1.0,2.0,x\n"
        "candidate_wins,2,b1,3,5,2,0.5,1.0,y\n"
    )
    run.result_file("top_tokens.csv").write_text(
        "direction,rank,doc_id,pos,domain,token_text,loss_baseline,loss_candidate,gap\n"
        "candidate_loses,1,b2,4,books,z,1.0,2.0,-1.0\n"
        "candidate_wins,1,p1,5,python,w,2.0,1.0,1.0\n"
    )
    run.result_file("top_documents.csv").write_text(
        "direction,rank,doc_id,domain,n_tokens,mean_gap,sum_gap\ncandidate_wins,1,b1,books,23,0.1,2.3\n"
    )
    results = read_results(run)
    # rank 1: segments (wins), tokens (wins, then loses), documents; then rank 2
    assert choose_documents(results, ReportConfig(viewer_docs=3), []) == [("h1", 2), ("p1", 5), ("b2", 4)]
    assert choose_documents(results, ReportConfig(viewer_docs=4), [])[3] == ("b1", None)
    # only rows the tables show count: with one row per table, rank 2 names nothing
    assert choose_documents(results, ReportConfig(top_rows=1), []) == [("h1", 2), ("p1", 5), ("b2", 4), ("b1", None)]
