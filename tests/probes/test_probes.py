"""Probes: generation is deterministic, every mark points at what docs/probes.md says (checked by parsing the
text by hand), marks land on the right tokens (a hand-made tokenization, and real tokenizers), and through
compare an induction oracle scores near zero on copy marks while a uniform model scores log(vocabulary)."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lossgap.analysis import CompareConfig, run_compare
from lossgap.errors import ConfigError
from lossgap.features import AnnotateConfig, run_annotate
from lossgap.features.probes import annotate_probes
from lossgap.features.records import Chunk, DocumentTokens, Resources
from lossgap.probes import PROBE_NAMES, ProbesConfig, generate_probes, run_probes
from lossgap.probes.answers import answer_gaps, answer_losses, answer_table, clustered_mean
from lossgap.probes.generate import COPY_DISTANCE_WORDS
from lossgap.rundir import RunDir
from lossgap.scoring import ScoreConfig, run_tokenize
from tests.conftest import TEXTS
from tests.tiny_models import train_tokenizer

SMALL = ProbesConfig(docs=3, levels={"copy": (4, 32), "recall": (3, 12), "tracking": (2, 8), "pronoun": (0, 3),
                                     "brackets": (2, 5), "copy_distance": (0, 12), "tracking_swap": (2, 8)})  # fmt: skip


def test_generation_is_deterministic_and_each_document_independent_of_the_others():
    first = generate_probes(SMALL)
    assert [(i, p, d.text, d.marks) for i, p, d in first] == [
        (i, p, d.text, d.marks) for i, p, d in generate_probes(SMALL)
    ]
    alone = generate_probes(ProbesConfig(probes=("recall",), docs=3, levels={"recall": (12,)}))
    want = {i: d.text for i, p, d in first if p == "recall" and d.level == 12}
    assert {i: d.text for i, _, d in alone} == want
    other_seed = generate_probes(ProbesConfig(docs=3, seed=1, levels=SMALL.levels))
    assert [d.text for _, _, d in other_seed] != [d.text for _, _, d in first]
    assert {p for _, p, _ in first} == set(PROBE_NAMES) and len(first) == 7 * 2 * 3


def _brackets_by_hand(text: str) -> list[tuple[int, int, int, int, int]]:
    """(close start, close end, open start, open end, depth) of every bracket pair, by a stack over the text."""
    token = re.compile(r"</(?:b|i|span)>|<(?:b|i|span)>|f\(|x\[|[()\[\]{}]")  # <p> wraps the markup: no group
    stack, pairs = [], []
    for m in token.finditer(text):
        if m.group().startswith("</") or m.group() in (")", "]", "}"):
            start, end = stack.pop()
            pairs.append((m.start(), m.end(), start, end, len(stack) + 1))
        else:
            stack.append((m.start(), m.end()))
    assert not stack
    return pairs


def test_every_mark_points_at_what_it_should():
    for _doc_id, probe, doc in generate_probes(SMALL):
        text = doc.text
        target = [text[m.start : m.end] for m in doc.marks]
        source = [text[m.src_start : m.src_end] for m in doc.marks]
        if probe == "copy":
            (m,) = doc.marks
            assert target == source and len(target[0].split()) == doc.level and m.skip_first and m.src_end < m.start
        elif probe == "copy_distance":  # a string of fixed length; `level` filler sentences between its copies
            (m,) = doc.marks
            assert target == source and len(target[0].split()) == COPY_DISTANCE_WORDS and m.skip_first
            between = text[m.src_end : m.start]
            assert between.startswith("\n") and between.endswith("\nAgain:\n")
            assert len(re.findall(r"[.]", between)) == doc.level
        elif probe == "recall":
            assert len(doc.marks) == min(8, doc.level)
            for t, s in zip(target, source, strict=True):  # the queried key's value, as its pair listed it
                key, value = s.split(": ")
                assert t == " " + value and text.count(f"\n{key}:") == 2
        elif probe == "tracking":
            where = {}  # replay the story by hand: where each object is at the end
            for obj, box in re.findall(r"The (\w+) is in the (\w+)\.", text.split("\nNow:")[0]):
                where[obj] = box
            for obj, box in re.findall(r"Move the (\w+) to the (\w+)\.", text):
                where[obj] = box
            answers = re.findall(r"The (\w+) is in the (\w+)\.", text.split("\nNow:")[1])
            assert [t.strip() for t in target] == [box for _, box in answers]
            assert all(where[obj] == box for obj, box in answers) and all(
                s.endswith(f" {t.strip()}.") for t, s in zip(target, source, strict=True)
            )
        elif probe == "tracking_swap":  # replay by hand, swaps moving every object in either container
            where, changed = {}, {}
            for sentence in re.findall(r"[^.]+\.", text.split("\nNow:")[0]):
                sentence = sentence.strip()
                if placed := re.fullmatch(r"The (\w+) is in the (\w+)\.", sentence):
                    where[placed[1]], changed[placed[1]] = placed[2], sentence
                elif moved := re.fullmatch(r"Move the (\w+) to the (\w+)\.", sentence):
                    where[moved[1]], changed[moved[1]] = moved[2], sentence
                else:
                    a, b = re.fullmatch(r"Swap the (\w+) and the (\w+)\.", sentence).groups()
                    assert {where[o] for o in where} & {a, b}  # every swap moves something
                    for obj in [o for o in where if where[o] in (a, b)]:
                        where[obj], changed[obj] = (b if where[obj] == a else a), sentence
            answers = re.findall(r"The (\w+) is in the (\w+)\.", text.split("\nNow:")[1])
            assert [t.strip() for t in target] == [box for _, box in answers]
            assert all(where[obj] == box for obj, box in answers)
            assert [changed[obj] for obj, _ in answers] == source
        elif probe == "pronoun":
            stated = dict(re.findall(r"(\w+) uses (\w+/\w+)\.", text))
            possessive = {"she/her": "her", "he/him": "his", "they/them": "their"}
            for m, t, s in zip(doc.marks, target, source, strict=True):
                person = s.split(" uses ")[0]
                assert t == " " + possessive[stated[person]]
                assert text[: m.start].rstrip().split(".")[-1].strip().startswith(person)  # the sentence is about them
            assert len(re.findall(r"[.] ", text.split(source[0])[1])) >= doc.level
        else:
            pairs = _brackets_by_hand(text)
            # a closing tag's mark is its name, within the whole tag; other closers are marked whole
            whole = sorted(
                (m.within_start, m.within_end) if m.within_start >= 0 else (m.start, m.end) for m in doc.marks
            )
            assert whole == sorted(p[:2] for p in pairs)
            got = sorted((m.within_start if m.within_start >= 0 else m.start, m.within_end if m.within_start >= 0 else
                          m.end, m.src_start, m.src_end, m.level) for m in doc.marks)  # fmt: skip
            assert got == sorted(pairs) and max(m.level for m in doc.marks) == doc.level
            for m in doc.marks:
                if m.within_start >= 0:
                    assert text[m.within_start : m.within_end] == f"</{text[m.start : m.end]}>"


def test_tracking_with_swaps_defeats_looking_up_the_objects_last_mention():
    """In `tracking`, the sentence that last names an object always says where it is; with swaps it often does
    not, so a model must compose the story's changes (the chance of a guess among four containers is 1 in 4)."""
    rates = {}
    for probe in ("tracking", "tracking_swap"):
        right = total = 0
        for _, _, doc in generate_probes(ProbesConfig(probes=(probe,), docs=60, levels={probe: (16,)})):
            story = doc.text.split("\nNow:")[0]
            for m in doc.marks:
                obj = re.search(r"The (\w+) is in the$", doc.text[: m.start])[1]
                last = [s for s in re.findall(r"[^.]+\.", story) if re.search(rf"\b{obj}\b", s)][-1]
                right += re.search(r"the (\w+)\.$", last)[1] == doc.text[m.start : m.end].strip()
                total += 1
        rates[probe] = right / total
    assert rates["tracking"] == 1.0 and rates["tracking_swap"] < 0.5


def _doc(text: str, spans: list[tuple[int, int]]) -> DocumentTokens:
    starts = np.array([-1] + [a for a, _ in spans])
    ends = np.array([-1] + [b for _, b in spans])
    return DocumentTokens(doc_id="d", domain="probe-copy", text=text, token_ids=np.arange(len(starts)),
                          char_start=starts, char_end=ends)  # fmt: skip


def _resources(marks) -> Resources:
    return Resources(nlp=None, prose_domains=frozenset(), count_ids=np.zeros(0, np.int64), counts=np.zeros(0),
                     repeat_context=None, probe_marks={"d": marks})  # fmt: skip


def test_marks_on_a_hand_made_tokenization():
    # "ab cd. ab cd.": tokens "ab", " c", "d.", " ab", " cd", "." ; the second "ab cd" is a copy of the first
    text = "ab cd. ab cd."
    spans = [(0, 2), (2, 4), (4, 6), (6, 9), (9, 12), (12, 13)]
    doc = _doc(text, spans)
    out = annotate_probes(Chunk(docs=(doc,), lexed=(None,)), _resources([("copy", 2, 7, 12, 0, 5, True, -1, -1)]))
    assert out["probe"].to_pylist() == ["copy"] * 7
    # " ab" (pos 4) starts the copy and is left out; " cd" (pos 5) is marked, 4 tokens after "ab" (pos 1)
    assert out["probe_mark"].to_pylist() == [False, False, False, False, False, True, False]
    assert out["probe_distance"].to_pylist() == [None] * 5 + [4, None]
    # the source, the first "ab cd" (pos 1-3: "d." starts inside it), likewise without its first token
    assert out["probe_source"].to_pylist() == [False, False, True, True, False, False, False]
    assert out["probe_level"].to_pylist() == [None, None, 2, 2, None, 2, None]
    # without skip_first both tokens of the copy are marked, and the whole source; a trailing "." is another token
    out = annotate_probes(Chunk(docs=(doc,), lexed=(None,)), _resources([("copy", 2, 7, 12, 0, 5, False, -1, -1)]))
    assert out["probe_mark"].to_pylist() == [False, False, False, False, True, True, False]
    assert out["probe_source"].to_pylist() == [False, True, True, True, False, False, False]


def test_a_closing_tag_is_marked_on_its_name_and_no_token_straddling_two_tags_is():
    text = "<b><i>ko</i></b>"  # </i> at 8-12 (name 10-11), </b> at 12-16 (name 14-15)
    marks = [("brackets", 2, 10, 11, 3, 6, False, 8, 12), ("brackets", 1, 14, 15, 0, 3, False, 12, 16)]

    def marked(spans: list[tuple[int, int]]) -> list[str]:
        out = annotate_probes(Chunk(docs=(_doc(text, spans),), lexed=(None,)), _resources(marks))
        shown = [""] + [text[a:b] for a, b in spans]  # position 0 is the prefix token
        return [t for t, m in zip(shown, out["probe_mark"].to_pylist(), strict=True) if m]

    # "</", name, ">" apart: the names alone; the token "></" reaching across two tags is not marked
    assert marked([(0, 3), (3, 6), (6, 8), (8, 10), (10, 11), (11, 14), (14, 15), (15, 16)]) == ["i", "b"]
    assert marked([(0, 3), (3, 6), (6, 8), (8, 12), (12, 16)]) == ["</i>", "</b>"]  # whole tags: marked whole
    assert marked([(0, 3), (3, 6), (6, 8), (8, 11), (11, 16)]) == ["</i"]  # "></b>" straddles: left out
    assert marked([(0, 3), (3, 6), (6, 8), (8, 16)]) == []  # one token for both tags: neither


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-tokenizers")
    return {
        "bpe-400": train_tokenizer(root / "a", TEXTS),
        "bpe-300-bos": train_tokenizer(root / "b", TEXTS, 300, add_bos=True),
    }


@pytest.mark.parametrize("which", ["bpe-400", "bpe-300-bos"])
def test_marked_tokens_are_the_targets_under_real_tokenizers(tokenizers, tmp_path, which):
    run = RunDir(tmp_path / "run")
    run_probes(run, SMALL)
    run_tokenize(run, ScoreConfig(model=str(tokenizers[which])))
    run_annotate(run, AnnotateConfig(workers=1))
    features = run.read("features", ["doc_id", "pos", "probe", "probe_mark", "probe_level", "probe_source"]).to_pandas()
    tokens = run.read("tokens").to_pandas()
    frame = tokens.merge(features, on=["doc_id", "pos"])
    texts = dict(zip(*(run.read("corpus").column(c).to_pylist() for c in ("doc_id", "text")), strict=True))
    marks = run.read("probes").to_pandas()
    for doc_id, doc_marks in marks.groupby("doc_id"):
        toks = frame[frame.doc_id == doc_id].sort_values("pos")
        text = texts[doc_id]
        marked = toks[toks.probe_mark]
        assert (toks.probe == doc_marks.probe.iloc[0]).all()
        want, want_source = set(), set()
        for m in doc_marks.itertuples():
            # by hand: the tokens whose first non-space character lies in the target, minus the first if asked; for
            # a closing tag (within_start set) the tokens that overlap its name and lie within the tag
            visible = [(t.pos, t.char_start, t.char_end, [c for c in range(t.char_start, t.char_end) if not text[c].isspace()])
                       for t in toks.itertuples() if t.char_start >= 0]  # fmt: skip
            firsts = [(p, chars[0] if chars else None) for p, _, _, chars in visible]
            if m.within_start >= 0:
                inside = [p for p, a, b, chars in visible if chars and chars[0] < m.char_end and chars[-1] >= m.char_start
                          and a >= m.within_start and b <= m.within_end]  # fmt: skip
            else:
                inside = [p for p, first in firsts if first is not None and m.char_start <= first < m.char_end]
            sourced = [p for p, first in firsts if first is not None and m.src_start <= first < m.src_end]
            assert (inside or m.within_start >= 0) and sourced, (doc_id, m)
            want |= set(inside[1:] if m.skip_first else inside)
            want_source |= set(sourced[1:] if m.skip_first else sourced)
        assert set(marked.pos) == want, doc_id
        assert set(toks[toks.probe_source].pos) == want_source, doc_id
        # the marked tokens spell the targets (less a copy's first word piece)
        spelled = "".join(text[t.char_start : t.char_end] for t in marked.itertuples())
        assert all(text[m.char_start : m.char_end].strip()[-2:] in spelled for m in doc_marks.itertuples())


def test_an_induction_oracle_scores_near_zero_on_copy_marks_and_a_uniform_model_log_vocabulary(tokenizers, tmp_path):
    run = RunDir(tmp_path / "run")
    run_probes(run, ProbesConfig(probes=("copy", "recall", "copy_distance"), docs=4,
                                 levels={"copy": (8, 64), "recall": (8,), "copy_distance": (0, 8)}))  # fmt: skip
    run_tokenize(run, ScoreConfig(model=str(tokenizers["bpe-400"])))
    run_annotate(run, AnnotateConfig(workers=1))
    tokens = run.read("tokens").to_pandas()
    vocab = 400
    oracle, uniform = [], []
    for _doc_id, doc in tokens.groupby("doc_id", sort=False):
        ids = doc.sort_values("pos").token_id.to_numpy()
        losses = []
        for i in range(1, len(ids)):  # predict ids[i] from ids[:i]: continue the longest earlier match
            guess = None
            for k in range(min(i, 24), 0, -1):
                suffix = tuple(ids[i - k : i])
                ends = [j for j in range(k, i) if tuple(ids[j - k : j]) == suffix]
                if ends:
                    guess = ids[ends[-1]]
                    break
            losses.append(1e-3 if guess == ids[i] else math.log(vocab))
        oracle.append(losses)
        uniform.append([math.log(vocab)] * (len(ids) - 1))
    for name, per_doc in (("oracle", oracle), ("uniform", uniform)):
        docs = tokens.groupby("doc_id", sort=False)
        rows = [(d, p, v) for (d, _), losses in zip(docs, per_doc, strict=True) for p, v in enumerate(losses, start=1)]
        run.write_scores(name, pa.table({"doc_id": [r[0] for r in rows], "pos": np.array([r[1] for r in rows], np.int32),
                                         "loss": np.array([r[2] for r in rows], np.float32)}))  # fmt: skip
    run_compare(run, CompareConfig(baseline="uniform", candidate="oracle", bootstrap=20))
    cats = run.read_results("categories.csv")
    probes = cats[cats.feature == "probe+probe_level"].set_index("value")
    copies = ("copy|8", "copy|64", "copy_distance|0", "copy_distance|8")
    assert set(probes.index) == {*copies, "recall|8"}
    # copying (at any distance), and recall by looking the key up where the pairs were listed, are (nearly) free
    for level in (*copies, "recall|8"):
        assert probes.loc[level, "mean_loss_candidate"] < 0.05 * math.log(vocab)
        assert probes.loc[level, "mean_loss_baseline"] == pytest.approx(math.log(vocab), rel=1e-6)
    # while on the text around the marks (the filler, the first copy, the keys) it mostly cannot copy
    overall = run.read_summary().mean_loss_candidate
    assert overall > 0.3 * math.log(vocab)
    # the first copy cannot be copied: the oracle pays there (its sources' rows), and the report draws it dashed
    sources = cats[cats.feature == "probe_source+probe_level"].set_index("value")
    assert set(copies) <= set(sources.index)
    for level in copies:
        assert sources.loc[level, "mean_loss_candidate"] > 10 * probes.loc[level, "mean_loss_candidate"]
    import matplotlib

    matplotlib.use("Agg")
    from lossgap.report.figures import draw_figures
    from lossgap.report.load import read_results

    figure = next(d for d in draw_figures(read_results(run)) if d.key == "probes").figure
    for ax, levels in ((figure.axes[0], copies[:2]), (figure.axes[1], copies[2:])):  # the panels copy, copy_distance
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        assert [line.get_label() for line in dashed] == ["uniform, first copy", "oracle, first copy"]
        assert list(dashed[1].get_ydata()) == pytest.approx([sources.loc[v, "mean_loss_candidate"] for v in levels])
    assert not [line for line in figure.axes[2].lines if line.get_linestyle() == "--"]  # recall: no first copy
    # the report takes which probes are copies, and what their levels count, from the run's probe record
    record = run.manifest().probes
    assert record.copy_probes == ("copy", "copy_distance") and figure.axes[0].get_xlabel() == "words in the string"
    run._update(lambda m: m.replace(probes=dataclasses.replace(record, copy_probes=("copy",))))
    figure = next(d for d in draw_figures(read_results(run)) if d.key == "probes").figure
    assert [len([x for x in ax.lines if x.get_linestyle() == "--"]) for ax in figure.axes[:2]] == [2, 0]
    # a probe run made before the record existed is drawn as its probes were then
    run._update(lambda m: m.replace(probes=None))
    figure = next(d for d in draw_figures(read_results(run)) if d.key == "probes").figure
    assert [len([x for x in ax.lines if x.get_linestyle() == "--"]) for ax in figure.axes[:3]] == [2, 2, 0]


def test_marks_scored_as_answers_sum_their_tokens_against_a_brute_force_and_chance(tokenizers, tmp_path):
    run = RunDir(tmp_path / "run")
    run_probes(run, ProbesConfig(probes=("tracking", "pronoun", "recall", "copy", "tracking_swap"), docs=3,
                                 levels={"tracking": (2,), "pronoun": (1,), "recall": (6,), "copy": (8,),
                                         "tracking_swap": (12,)}))  # fmt: skip
    run_tokenize(run, ScoreConfig(model=str(tokenizers["bpe-400"])))
    run_annotate(run, AnnotateConfig(workers=1))
    tokens = run.read("tokens").to_pandas()
    scored = tokens[tokens.pos > 0]
    run.write_scores("m", pa.table({"doc_id": scored.doc_id.tolist(), "pos": scored.pos.to_numpy(np.int32),
                                    "loss": (0.25 + 0.01 * scored.pos.to_numpy() % 0.7).astype(np.float32)}))  # fmt: skip
    answers = answer_losses(run, ["m"])
    # by hand: per mark, the scored tokens whose first visible character lies in the target (less a copy's first)
    texts = dict(zip(*run.read("corpus", ["doc_id", "text"]).to_pydict().values(), strict=True))
    loss = {
        (d, p): np.float64(np.float32(0.25 + 0.01 * p % 0.7)) for d, p in zip(scored.doc_id, scored.pos, strict=True)
    }
    expected = []
    for doc_id, doc_marks in run.read("probes").to_pandas().groupby("doc_id", sort=False):
        toks = tokens[(tokens.doc_id == doc_id) & (tokens.pos > 0)].sort_values("pos")
        text = texts[doc_id]
        for k, m in enumerate(doc_marks.itertuples()):
            inside = [t.pos for t in toks.itertuples()
                      if (f := next((c for c in range(t.char_start, t.char_end) if not text[c].isspace()), None)) is not None
                      and m.char_start <= f < m.char_end]  # fmt: skip
            inside = inside[1:] if m.skip_first else inside
            expected.append(
                (doc_id, k, m.probe, len(inside), sum(loss[doc_id, p] for p in inside), loss[doc_id, inside[0]])
            )
    got = answers.sort_values(["doc_id", "mark"])[["doc_id", "mark", "probe", "n_tokens", "loss_sum", "first_loss"]]
    want = pd.DataFrame(expected, columns=got.columns).sort_values(["doc_id", "mark"])
    assert got["n_tokens"].tolist() == want["n_tokens"].tolist() and len(got) == 3 * (3 + 3 + 6 + 1 + 3)
    np.testing.assert_allclose(got["loss_sum"], want["loss_sum"], rtol=1e-9)
    np.testing.assert_allclose(got["first_loss"], want["first_loss"], rtol=1e-9)
    table = answer_table(answers).set_index("probe")
    assert table.loc["tracking", "chance"] == pytest.approx(math.log(4))
    assert table.loc["pronoun", "chance"] == pytest.approx(math.log(3))
    assert table.loc["recall", "chance"] == pytest.approx(math.log(6)) and np.isnan(table.loc["copy", "chance"])
    for probe, part in want.assign(probe=want["probe"]).groupby("probe"):
        row = table.loc[probe]
        assert row["per_answer"] == pytest.approx(part["loss_sum"].mean()) and row["n_answers"] == len(part)
        assert row["per_token"] == pytest.approx(part["loss_sum"].sum() / part["n_tokens"].sum())
        assert row["n_docs"] == 3 and row["ci_low"] <= row["per_answer"] <= row["ci_high"]
    # three answers in every tracking document: the clustered interval is the t interval over document means
    doc_means = want[want["probe"] == "tracking"].groupby("doc_id")["loss_sum"].mean().to_numpy()
    half = 4.302652729911275 * doc_means.std(ddof=1) / math.sqrt(3)  # t(0.975, 2 df)
    row = table.loc["tracking"]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["per_answer"] - half, row["per_answer"] + half))
    # the last-mention heuristic, replayed by hand: always right in tracking, often wrong with swaps
    right = []
    for doc_id, doc_marks in run.read("probes").to_pandas().query("probe == 'tracking_swap'").groupby("doc_id"):
        story = texts[doc_id].split("\nNow:")[0]
        for m in doc_marks.itertuples():
            obj = texts[doc_id][: m.char_start].split()[-4]  # "... The OBJ is in the"
            last = [x for x in story.split(". ") if f" {obj} " in f" {x} "][-1]
            right.append(last.rstrip(".").split()[-1] == texts[doc_id][m.char_start : m.char_end].strip())
    r = sum(right) / len(right)
    assert table.loc["tracking", "heuristic_right"] == 1.0 and table.loc["tracking", "heuristic_loss"] == 0.0
    assert table.loc["tracking_swap", "heuristic_right"] == pytest.approx(r) and r < 1
    k = 4
    assert table.loc["tracking_swap", "heuristic_loss"] == pytest.approx(
        -(r * math.log(r) if r else 0) - (1 - r) * math.log((1 - r) / (k - 1))
    )
    assert np.isnan(table.loc["copy", "heuristic_right"]) and np.isnan(table.loc["recall", "heuristic_loss"])


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="unknown probe"):
        ProbesConfig(probes=("copy", "sorting"))
    with pytest.raises(ConfigError, match="--copy-level: give integers"):
        ProbesConfig(levels={"copy": (0,)})
    with pytest.raises(ConfigError, match="--docs"):
        ProbesConfig(docs=0)


def test_the_command_writes_the_corpus_and_marks_and_refuses_bad_levels(tmp_path):
    from typer.testing import CliRunner

    from lossgap.cli import app

    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["probes", "--run", str(run), "--probe", "copy", "--probe", "brackets",
                                      "--copy-level", "4", "--copy-level", "8", "--brackets-level", "3", "--docs", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "6 documents (copy 4, brackets 2)" in " ".join(result.output.split())
    rd = RunDir(run)
    assert rd.manifest().corpus.domains == {"probe-brackets": 2, "probe-copy": 4}
    assert set(rd.read("probes").column("probe").to_pylist()) == {"copy", "brackets"}
    record = rd.manifest().probes  # the probe run's record: probes, levels, documents, seed
    assert record.probes == ("copy", "brackets") and record.levels == {"copy": (4, 8), "brackets": (3,)}
    assert (record.docs, record.seed, record.level_meaning["brackets"]) == (2, 0, "nesting depth")
    assert sorted(set(rd.read("probes").to_pandas().query("probe == 'copy'")["level"])) == [4, 8]
    other = tmp_path / "other"
    for argv, message in ((["--copy-level", "four"], "Invalid value for '--copy-level'"),
                          (["--copy-level", "0"], "--copy-level: give integers >= 1"),
                          (["--copy-level", "8", "--copy-level", "8"], "--copy-level given twice with the same level"),
                          (["--probe", "copy", "--recall-level", "4"], "the recall probe is not among the --probe given")):  # fmt: skip
        bad = CliRunner().invoke(app, ["probes", "--run", str(other), *argv])
        assert bad.exit_code == 2 and message in " ".join(bad.output.split()), bad.output
        assert not other.exists()


def _planted_answers(rng: np.random.Generator, effect: float, per_doc: np.ndarray) -> pd.DataFrame:
    """Two scorings of the same answers: the candidate better by `effect` per answer on average, with a shared
    document effect in the paired difference (answers of one document move together) and skewed noise."""
    docs = np.repeat(np.arange(len(per_doc)), per_doc)
    base = rng.gamma(2.0, 0.5, len(docs))
    gap = effect + rng.normal(0, 0.3, len(per_doc))[docs] + rng.gamma(1.0, 0.4, len(docs)) - 0.4
    frame = pd.DataFrame({"doc_id": [f"d{d}" for d in docs], "mark": np.concatenate([np.arange(n) for n in per_doc]),
                          "probe": "tracking_swap", "level": 4, "n_tokens": 2})  # fmt: skip
    return pd.concat([frame.assign(loss_sum=base, first_loss=base / 2, name="b"),
                      frame.assign(loss_sum=base - gap, first_loss=(base - gap) / 2, name="c")], ignore_index=True)  # fmt: skip


def test_answer_gaps_pair_answers_against_a_hand_computation():
    """answer_gaps pairs each answer across the two scorings (rows in any order, an answer scored by one side only
    left out) and its interval is the t interval over documents' mean differences when documents hold equally many."""
    rng = np.random.default_rng(3)
    answers = _planted_answers(rng, 0.2, np.full(4, 3))
    answers = pd.concat([answers.sample(frac=1, random_state=0),
                         answers.iloc[[0]].assign(doc_id="lonely", name="b")], ignore_index=True)  # fmt: skip
    row = answer_gaps(answers, "b", "c").iloc[0]
    b = answers[(answers["name"] == "b") & (answers["doc_id"] != "lonely")].sort_values(["doc_id", "mark"])
    c = answers[answers["name"] == "c"].sort_values(["doc_id", "mark"])
    diff = b["loss_sum"].to_numpy() - c["loss_sum"].to_numpy()
    assert row["n_answers"] == 12 and row["n_docs"] == 4
    assert row["gap"] == pytest.approx(diff.mean()) and row["first_token_gap"] == pytest.approx(diff.mean() / 2)
    assert row["per_answer_baseline"] - row["per_answer_candidate"] == pytest.approx(row["gap"])
    doc_means = diff.reshape(4, 3).mean(axis=1)
    half = 3.182446305284263 * doc_means.std(ddof=1) / 2  # t(0.975, 3 df), sqrt(4) documents
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((row["gap"] - half, row["gap"] + half))
    with pytest.raises(ValueError, match="no answers scored by 'x'"):
        answer_gaps(answers, "b", "x")


@pytest.mark.parametrize(("effect", "n_docs", "balanced", "floor"),
                         [(0.0, 20, True, 0.92), (0.3, 20, True, 0.92), (0.0, 8, False, 0.90), (0.3, 8, False, 0.90)])  # fmt: skip
def test_answer_gap_intervals_cover_planted_effects_and_nulls(effect, n_docs, balanced, floor):
    """Coverage of the per-answer 95% interval (`clustered_mean`, what answer_gaps and answer_table use) over 800
    simulated paired differences with a document effect and skewed noise: 20 documents of 3 answers (the matched
    experiment's probe runs), and the hard regime of 8 documents of 1 to 5 answers. Measured with 2,000 runs:
    94.6% and 93.6% (the few-document regime undercovers a little); the floors leave three standard errors of the
    800-run estimate."""
    rng = np.random.default_rng(int(effect * 10) + n_docs)
    hits = 0
    for _ in range(800):
        per_doc = np.full(n_docs, 3) if balanced else rng.integers(1, 6, n_docs)
        docs = np.repeat(np.arange(n_docs), per_doc)
        gap = effect + rng.normal(0, 0.3, n_docs)[docs] + rng.gamma(1.0, 0.4, len(docs)) - 0.4
        _, low, high, _ = clustered_mean(pd.Series(gap), pd.Series(docs))
        hits += low <= effect <= high
    assert floor <= hits / 800 <= 0.98
