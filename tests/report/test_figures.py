import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pandas as pd
import pytest

from lossgap.report.figures import build_figures, draw_figures, split_values
from lossgap.report.load import read_results

from .synthetic import make_run

SVG = "{http://www.w3.org/2000/svg}"
ALL = ["contrasts", "distribution", "word-class", "brackets", "repeats", "domains", "shares", "curves", "curves-diff"]


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


def test_figures_label_their_points_with_n(full):
    results, figures = full
    figures = {f.key: f for f in figures}
    upos = results.categories.query("feature == 'upos'")
    labels = _texts(figures["word-class"].svg)
    for value, n, note in zip(upos["value"], upos["n_tokens"], upos["note"], strict=True):
        assert f"{value}  (n={n:,})" + ("  no interval" if note else "") in labels
    bracket_labels = " ".join(_texts(figures["brackets"].svg))
    assert "open brackets" in bracket_labels and "close brackets" in bracket_labels
    assert re.search(r"books  \(open n=\d+, close n=\d+\)", bracket_labels) and "prose" in bracket_labels
    repeats = _texts(figures["repeats"].svg)
    assert any(re.fullmatch(r"1\s*n=\d+", t.replace("\n", " ")) or t.startswith("n=") for t in repeats)
    contrasts = " ".join(_texts(figures["contrasts"].svg))
    assert "content words − function words" in contrasts and "closing − opening brackets (all)" in contrasts
    assert "log_freq_c" not in contrasts and "(null)" not in contrasts  # words, not model terms
    assert {"transformer", "hybrid"} <= set(_texts(figures["curves"].svg))
    assert any(t.startswith("close_bracket  (n=") for t in _texts(figures["curves"].svg))


def test_captions_are_true_to_what_is_drawn(full):
    results, figures = full
    captions = {f.key: f.caption for f in figures}
    assert "loss(base-short) − loss(cand-full)" in captions["word-class"]
    assert "purple circles" in captions["brackets"] and "orange squares" in captions["brackets"]
    assert "without whiskers" in captions["word-class"] and "effective documents" in captions["word-class"]
    assert "own vertical scales" in captions["repeats"] and "n under each bin" in captions["repeats"]
    assert "Holm" in captions["contrasts"]
    assert "paired" in captions["curves-diff"]


def test_repeat_panels_have_their_own_y_axes(full):
    results, _ = full
    drawn = {d.key: d for d in draw_figures(results)}
    left, right = drawn["repeats"].figure.axes
    assert left.get_shared_y_axes().get_siblings(left) == [left]  # not shared with the distance panel


def test_points_without_interval_are_grey_and_have_no_whiskers(tmp_path):
    run, _ = make_run(tmp_path / "run", curves=False)
    path = run.result_file("categories.csv")
    frame = run.read_results("categories.csv")
    domains = frame["feature"] == "domain"
    frame.loc[domains, "ci_low"], frame.loc[domains, "ci_high"] = frame["mean_gap"] - 0.1, frame["mean_gap"] + 0.1
    frame.loc[domains, "note"] = ""
    thin = frame.index[domains][0]
    frame.loc[thin, ["ci_low", "ci_high"]] = float("nan")
    frame.loc[thin, "note"] = "1.0 effective documents (< 10): no interval"
    path.write_text(frame.to_csv(index=False))
    drawn = {d.key: d for d in draw_figures(read_results(run))}
    ax = drawn["domains"].figure.axes[0]
    whiskers = ax.collections[0]  # hlines: one segment per point with an interval
    assert len(whiskers.get_segments()) == (frame["feature"] == "domain").sum() - 1
    colors = ax.collections[1].get_facecolors()
    assert any(abs(c[0] - 0xC4 / 255) < 0.01 and abs(c[1] - 0xC4 / 255) < 0.01 for c in colors)  # the grey one
    assert any("no interval" in label.get_text() for label in ax.get_yticklabels())


@pytest.mark.parametrize(
    "missing, gone",
    [
        ("curves.csv", {"curves"}),
        ("curves_diff.csv", {"curves-diff"}),
        ("contrasts.csv", {"contrasts"}),
        ("repeat_curve.csv", {"repeats"}),
        ("categories.csv", {"word-class", "brackets", "domains", "shares"}),
        ("distribution.csv", {"distribution"}),
    ],
)
def test_figure_left_out_when_its_table_is_absent(synthetic_run, missing, gone):
    run, _ = synthetic_run
    run.result_file(missing).unlink()
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


def test_importing_lossgap_and_drawing_leaves_the_matplotlib_backend_alone(tmp_path):
    """A notebook's backend is its own: lossgap draws on Figure objects, never through pyplot."""
    script = (
        "import matplotlib\nmatplotlib.use('svg')\n"
        "import lossgap, lossgap.report, lossgap.report.figures, lossgap.report.run\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
        "import sys\nassert 'matplotlib.pyplot' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_split_values_names_the_level_columns_of_combined_categories():
    frame = pd.DataFrame({"feature": ["domain+bracket_side"] * 2, "value": ["web|forum|close", "books|open"],
                          "level_1": ["web|forum", "books"], "level_2": ["close", "open"], "level_3": ["", ""]})  # fmt: skip
    out = split_values(frame, ["domain", "side"])
    assert out["domain"].tolist() == ["web|forum", "books"] and out["side"].tolist() == ["close", "open"]
    with pytest.raises(ValueError, match="2 parts"):
        split_values(pd.DataFrame({"feature": ["x"], "value": ["x"], "level_1": ["x"], "level_2": [""]}), ["a", "b"])


def test_labels_from_data_are_plain_escaped_text(synthetic_run):
    # category values are data: "$" is not mathtext, and markup ends up as escaped SVG text
    run, _ = synthetic_run
    frame = run.read_results("categories.csv")
    extra = frame[frame["feature"] == "domain"].head(2).copy()
    extra["value"] = ["<script>alert(3)</script>", "costs $5 and $"]
    extra["n_tokens"] = 5
    run.result_file("categories.csv").write_text(pd.concat([frame, extra]).to_csv(index=False))
    figure = next(f for f in build_figures(read_results(run)) if f.key == "domains")
    assert "<script>" not in figure.svg and "&lt;script&gt;alert(3)&lt;/script&gt;" in figure.svg
    labels = " ".join(_texts(figure.svg))
    assert "<script>alert(3)</script>  (n=5)" in labels and "costs $5 and $  (n=5)" in labels


def _boxes(fig, labels):  # type: ignore[no-untyped-def]
    """Window extents of text artists, after drawing the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    return [t.get_window_extent(renderer) for t in labels if t.get_text()]


def test_every_panel_names_its_axis_and_the_repeat_caption_its_direction(full):
    results, _ = full
    drawn = {d.key: d for d in draw_figures(results)}
    for key in ("word-class", "brackets", "domains"):
        for ax in drawn[key].figure.axes:
            if ax.get_visible() and ax.has_data():
                assert ax.get_xlabel().startswith("gap (nats) = loss("), (key, ax.get_title())
    caption = drawn["repeats"].caption  # the gap is on the vertical axis there
    assert "above zero" in caption and "right of zero" not in caption
    assert "right of zero" in drawn["word-class"].caption


def test_repeat_bin_labels_do_not_overlap_even_for_wide_bins(full):
    import dataclasses

    import numpy as np

    results, _ = full
    bins = ["1-15", "16-63", "64-255", "256-1023", "1024-4095", "4096-16383", "16384-65535"]
    frame = pd.DataFrame({"kind": "repeat_dist", "bin": bins, "bin_order": range(len(bins)),
                          "n_tokens": [123_456] * len(bins), "mean_gap": np.linspace(0, 1, len(bins)),
                          "ci_low": np.nan, "ci_high": np.nan, "note": ""})  # fmt: skip
    length = frame.assign(kind="repeat_len", bin=[str(i) for i in range(1, 8)])
    wide = dataclasses.replace(results, repeat_curve=pd.concat([length] * 5 + [frame], ignore_index=True).assign(
        bin_order=lambda f: f.groupby("kind").cumcount(), bin=lambda f: np.where(f["kind"] == "repeat_len",
                                                                                 (f["bin_order"] + 1).astype(str), f["bin"])))  # fmt: skip
    fig = {d.key: d for d in draw_figures(wide)}["repeats"].figure
    for ax in fig.axes:
        boxes = _boxes(fig, ax.get_xticklabels())
        assert len(boxes) >= 5
        for a, b in zip(boxes, boxes[1:], strict=False):
            assert not a.overlaps(b), (ax.get_title(), a, b)


def test_contrasts_legend_sits_beside_its_plot(full):
    results, _ = full
    fig = {d.key: d for d in draw_figures(results)}["contrasts"].figure
    ax = fig.axes[0]
    (legend,) = _boxes(fig, [ax.get_legend().get_texts()[0]])
    (plot,) = [ax.get_window_extent()]
    assert plot.y1 <= legend.y0 <= plot.y1 + 0.1 * fig.bbox.height  # just above the plot, inside the figure
    assert legend.y1 <= fig.bbox.height


def test_curves_of_few_steps_have_whole_step_ticks_and_no_promised_shading(full):
    import dataclasses

    results, _ = full
    curves = results.curves.copy()
    steps = {s: i + 1 for i, s in enumerate(sorted(curves["step"].unique()))}
    curves["step"] = curves["step"].map(steps)  # steps 1, 2, 3
    curves[["ci_low", "ci_high"]] = float("nan")
    drawn = {d.key: d for d in draw_figures(dataclasses.replace(results, curves=curves))}["curves"]
    _boxes(drawn.figure, [])
    for ax in drawn.figure.axes:
        if ax.get_visible():
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert "Shaded" not in drawn.caption and "No intervals are drawn" in drawn.caption


def test_share_figure_draws_each_part_of_speech_at_its_shares(full):
    results, _ = full
    drawn = {d.key: d for d in draw_figures(results)}["shares"]
    ax = drawn.figure.axes[0]
    upos = results.categories.query("feature == 'upos'")
    points = ax.collections[-1].get_offsets()
    assert sorted(map(tuple, points.round(9).tolist())) == sorted(
        zip(upos["share_of_tokens"].round(9), upos["share_of_gap"].round(9), strict=True)
    )
    assert ax.get_xlabel() == "share of the tokens" and ax.get_ylabel() == "share of the total gap"
    assert "dashed diagonal" in drawn.caption
