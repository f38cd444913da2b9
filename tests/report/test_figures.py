import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from lossgap.report.figures import build_figures, split_values, term_label
from lossgap.report.load import read_results

from .synthetic import make_run

SVG = "{http://www.w3.org/2000/svg}"
ALL = ["word-class", "brackets", "repeats", "domains", "regression", "curves"]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """The synthetic run's results and its figures, drawn once for the tests that only read them."""
    run, _ = make_run(tmp_path_factory.mktemp("figures") / "run")
    results = read_results(run)
    return results, build_figures(results)


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_figure_drawn_from_full_results(full):
    _, figures = full
    assert [f.key for f in figures] == ALL
    for f in figures:
        assert f.inline_svg.startswith("<svg")
        ET.fromstring(f.svg)  # well-formed standalone SVG
        assert f.caption and f.title


def test_figures_label_the_categories_of_their_tables(full):
    results, figures = full
    figures = {f.key: f for f in figures}
    upos = results.categories.query("feature == 'upos'")
    labels = _texts(figures["word-class"].svg)
    for value, n in zip(upos["value"], upos["n_tokens"]):
        assert f"{value}  (n={n:,})" in labels
    assert {"books", "python", "open brackets", "close brackets"} <= set(_texts(figures["brackets"].svg))
    regression = _texts(figures["regression"].svg)
    assert "log_freq" in regression and "bracket_side = close" in regression
    assert "Intercept" not in regression  # intercept left out
    assert {"transformer", "hybrid", "all", "closing brackets"} <= set(_texts(figures["curves"].svg))
    assert "gap ~ C(bracket_side) + repeated + C(word_class) + log_freq" in figures["regression"].caption


def test_captions_state_the_sign_convention_with_model_names(full):
    _, figures = full
    for f in figures:
        if f.key != "curves":
            assert "cand-full" in f.caption
    assert "loss(base-short) − loss(cand-full)" in figures[0].caption


@pytest.mark.parametrize("missing, gone", [
    ("curves.csv", {"curves"}),
    ("regression.csv", {"regression"}),
    ("repeat_curve.csv", {"repeats"}),
    ("categories.csv", {"word-class", "brackets", "domains"}),
])
def test_figure_left_out_when_its_table_is_absent(synthetic_run, missing, gone):
    run, _ = synthetic_run
    run.results_path(missing).unlink()
    assert [f.key for f in build_figures(read_results(run))] == [k for k in ALL if k not in gone]


def test_figures_are_deterministic_with_distinct_ids(full):
    results, first = full
    second = build_figures(results)
    assert [f.svg for f in first] == [f.svg for f in second]
    ids = [el.get("id") for f in first for el in ET.fromstring(f.svg).iter() if el.get("id")]
    assert len(ids) == len(set(ids))  # no clash when all are inlined in one page
    for f in first:  # every internal reference points at an id of the same figure
        for ref in re.findall(r'(?:url\(#|href="#)([^)"]+)', f.svg):
            assert ref.startswith(f"{f.key}-") and f'id="{ref}"' in f.svg


def test_split_values_splits_combined_categories():
    frame = pd.DataFrame({"feature": ["domain+bracket_side"] * 2, "value": ["python|close", "books|open"]})
    out = split_values(frame, ["domain", "side"])
    assert out["domain"].tolist() == ["python", "books"] and out["side"].tolist() == ["close", "open"]
    with pytest.raises(ValueError, match="2 parts"):
        split_values(pd.DataFrame({"feature": ["x"], "value": ["nopipe"]}), ["a", "b"])


@pytest.mark.parametrize("term, label", [
    ("C(bracket_side, Treatment('none'))[T.close]", "bracket_side = close"),
    ("C(word_class)[content]", "word_class = content"),
    ("C(repeat_len_bin, Treatment('0'))[T.4-7]", "repeat_len_bin = 4-7"),
    ("C(domain, Sum)[S.books]", "domain = books"),
    ("bracket_side[T.close]", "bracket_side = close"),
    ("log_freq_c", "log_freq_c"),
    ("np.log(x)", "np.log(x)"),
])
def test_term_label_reads_patsy_terms(term, label):
    assert term_label(term) == label


def test_labels_from_data_are_plain_escaped_text(synthetic_run):
    # category values are data: "$" is not mathtext, and markup ends up as escaped SVG text
    run, _ = synthetic_run
    path = run.results_path("categories.csv")
    path.write_text(path.read_text()
                    + "domain,<script>alert(3)</script>,5,1,3.0,2.0,1.0,0.5,1.5,1.0\n"
                    + "domain,costs $5 and $,5,1,3.0,2.0,1.0,0.5,1.5,1.0\n")
    figure = next(f for f in build_figures(read_results(run)) if f.key == "domains")
    assert "<script>" not in figure.svg and "&lt;script&gt;alert(3)&lt;/script&gt;" in figure.svg
    labels = _texts(figure.svg)
    assert "<script>alert(3)</script>  (n=5)" in labels and "costs $5 and $  (n=5)" in labels
