"""The report in a real headless Chromium (Debian's `chromium`, driven by Playwright): it loads from file://
with no errors, shows every figure, and its viewer's tooltip, filter and escaping work.

Screenshots go to $LOSSGAP_SCREENSHOTS when set, else to pytest's tmp dir.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from lossgap.report import ReportConfig, run_report

from .synthetic import BASELINE, CANDIDATE, DOCS, make_run

CHROMIUM = os.environ.get("LOSSGAP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# CI sets LOSSGAP_REQUIRE_BROWSER=1: there a missing browser fails the run instead of skipping these tests.
def _missing(reason: str) -> None:
    if os.environ.get("LOSSGAP_REQUIRE_BROWSER"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from playwright import sync_api
except ImportError:
    _missing("playwright is not installed: pip install playwright (no `playwright install`)")
if shutil.which(CHROMIUM) is None:
    _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set LOSSGAP_CHROMIUM)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run, frame = make_run(tmp_path_factory.mktemp("browser") / "run")
    return run_report(run.path).path, frame


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    where = os.environ.get("LOSSGAP_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, report):
    """A fresh page on the report, recording console errors, page errors, dialogs and non-file requests."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.problems = []  # type: ignore[attr-defined]
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: r.url.startswith("file://") or page.problems.append(f"network request: {r.url}"))

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(report[0].as_uri())
    page.wait_for_selector("#doc-text .tok")
    yield page
    page.close()


def _show(page, doc_id: str) -> None:
    page.select_option("#doc-select", label=next(f"{d}  ({m})" for d, m, _ in DOCS if d == doc_id))


def _undimmed(page) -> list[int]:
    return page.eval_on_selector_all("#doc-text .tok:not(.dim)", "els => els.map(e => Number(e.dataset.pos))")


def test_report_loads_offline_without_errors_and_shows_every_figure(page, shots):
    figures = page.eval_on_selector_all(
        "figure.plot", "els => els.map(f => [f.id, f.querySelector('svg').getBoundingClientRect().height])"
    )
    assert [f for f, _ in figures] == [
        f"fig-{k}"
        for k in (
            "contrasts",
            "distribution",
            "word-class",
            "brackets",
            "repeats",
            "domains",
            "shares",
            "curves",
            "curves-diff",
        )
    ]
    assert all(height > 100 for _, height in figures)
    assert page.eval_on_selector("#doc-text", "e => getComputedStyle(e).whiteSpace") == "pre-wrap"  # CSS loaded
    page.screenshot(path=str(shots / "report-full.png"), full_page=True)
    assert page.problems == []


def test_tooltip_shows_both_losses_and_probabilities_of_the_hovered_token(page, report, shots):
    _, frame = report
    _show(page, "b1")
    row = frame[(frame["doc_id"] == "b1") & (frame["pos"] == 7)].iloc[0]  # ")" closing bracket
    page.hover("#doc-text .tok[data-pos='7']")
    tip = page.locator("#tooltip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert ")" in text and "position 7" in text
    for loss in (row.loss_baseline, row.loss_candidate):
        p = math.exp(-loss)
        assert f"{loss:.4f}" in text and (f"{p:.4f}" if p >= 0.001 else f"{p:.1e}".replace("e-0", "e-")) in text
    assert f"+{row.loss_baseline - row.loss_candidate:.4f}" in text
    assert "rank" in text and "entropy" in text  # what scoring recorded beside the loss
    assert f"{row.loss_baseline / 2 + 0.25:.3f}" in text and f"{row.loss_candidate / 2 + 0.25:.3f}" in text
    assert BASELINE in text and CANDIDATE in text and "close" in text and "round" in text
    page.locator("#viewer").screenshot(path=str(shots / "viewer-tooltip.png"))
    page.mouse.move(5, 5)
    assert page.problems == []


def test_category_filter_fades_every_token_outside_the_category(page, report):
    _, frame = report
    _show(page, "p1")
    doc = frame[(frame["doc_id"] == "p1") & (frame["pos"] >= 1)]
    assert sorted(_undimmed(page)) == doc["pos"].tolist()
    page.select_option("#filter-select", label="bracket_side = close")
    assert sorted(_undimmed(page)) == doc[doc["bracket_side"] == "close"]["pos"].tolist() == [5, 14, 21, 30]
    page.select_option("#filter-select", label="repeated (repeat_len >= 2)")  # the headline's definition
    assert sorted(_undimmed(page)) == doc[doc["repeat_len"] >= 2]["pos"].tolist()
    labels = page.eval_on_selector_all("#filter-select option", "els => els.map(e => e.textContent)")
    assert not [label for label in labels if label.endswith("= ")]  # no empty filter values
    page.select_option("#filter-select", label="all tokens")
    assert len(_undimmed(page)) == len(doc)
    assert "31 of 31 tokens shown" in page.inner_text("#filter-stats")


def test_whitespace_is_drawn_and_text_is_exact(page):
    _, _, text = DOCS[2]
    _show(page, "p1")
    assert page.locator("#doc-text .ws.nl").count() == text.count("\n")
    assert page.locator("#doc-text .ws.tab").count() == text.count("\t")
    shown = page.eval_on_selector("#doc-text", "e => e.textContent")
    assert shown.replace("↵", "").replace("→", "") == text


def test_markup_in_a_document_is_shown_as_text_and_runs_nothing(page, shots):
    _show(page, "b2")
    shown = page.eval_on_selector("#doc-text", "e => e.textContent")
    assert shown == DOCS[1][2]  # "... <script>alert(1)</script> and </div> & then left."
    assert page.locator("#doc-text script, #doc-text div").count() == 0
    assert page.locator("script").count() == 2  # the viewer's JSON and viewer.js only
    page.hover("#doc-text .tok[data-pos='4']")  # "script"
    assert page.locator("#tooltip").is_visible()
    page.locator("#viewer").screenshot(path=str(shots / "viewer-markup.png"))
    assert page.dialogs == [] and page.problems == []


def test_whole_tags_as_single_tokens_stay_text(page):
    _show(page, "h1")
    shown = page.eval_on_selector("#doc-text", "e => e.textContent")
    assert shown == DOCS[3][2]
    assert page.locator("#doc-text *:not(span)").count() == 0  # only the viewer's own spans
    page.hover("#doc-text .tok[data-pos='5']")
    assert '<img/src=""/onerror=alert(2)>' in page.inner_text("#tooltip")
    page.wait_for_timeout(100)
    assert page.dialogs == [] and page.problems == []


def test_table_link_opens_the_document_at_the_token(page, report):
    _, frame = report
    link = page.locator("#table-tokens-loses a").first
    href = link.get_attribute("href")
    index, pos = (int(x) for x in href[len("#doc-") :].split("-"))
    link.click()
    page.wait_for_function(f"document.querySelector('#doc-select').value === '{index}'")
    focused = page.eval_on_selector_all("#doc-text .tok.focus", "els => els.map(e => Number(e.dataset.pos))")
    assert focused == [pos]
    segment = page.locator("#table-segments-loses a").first
    segment.click()
    # The viewer moves the focus on hashchange, after the click returns: wait for it before reading (for the
    # segment's last token: its first may already hold the focus when the token link above pointed at it).
    page.wait_for_function("document.querySelector('#doc-text .tok.focus[data-pos=\"13\"]') !== null")
    focused = page.eval_on_selector_all("#doc-text .tok.focus", "els => els.map(e => Number(e.dataset.pos))")
    assert focused == list(range(3, 14))  # the segment [3, 14) of b2
    assert page.problems == []


def test_report_without_viewer_or_curves_loads_without_errors(browser, tmp_path):
    run, _ = make_run(tmp_path / "run", curves=False)
    path = run_report(run.path, ReportConfig(viewer_docs=0)).path
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    assert page.locator("figure.plot").count() == 7 and page.locator("#viewer").count() == 0
    assert "lossgap curves" in page.inner_text("aside.omitted")
    page.close()
    assert problems == []


def test_word_viewer_marks_each_models_own_token_boundaries(browser, tmp_path, llama_model, corpus_file):
    """Models with different tokenizers compared per word: the viewer colours words, and "Token boundaries" puts a
    mark before each of the chosen model's tokens, without changing the text."""
    from lossgap.analysis import CompareConfig, run_compare
    from lossgap.rundir import RunDir
    from lossgap.scoring import ScoreConfig, run_score
    from lossgap.units import resolve_unit
    from tests.conftest import TEXTS, score
    from tests.tiny_models import save_tiny_model, train_tokenizer

    rd = RunDir(tmp_path / "run")
    score(rd, ScoreConfig(model=str(llama_model), name="a"), corpus_file)
    other_tok = train_tokenizer(tmp_path / "tok2", TEXTS, vocab_size=300, add_bos=True)
    run_score(rd, ScoreConfig(model=str(save_tiny_model("llama", tmp_path / "other", other_tok)), name="c"))
    words = resolve_unit(rd, "auto", ["a", "c"])
    run_compare(words, CompareConfig(baseline="a", candidate="c", bootstrap=20))
    path = run_report(words.path).path
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    page.select_option("#doc-select", label="doc0  (books)")
    n_words = page.locator("#doc-text .tok").count()
    assert n_words == len(words.read("tokens").filter(pa_equal(words.read("tokens"), "doc0"))) - 1  # the prefix row
    shown = page.eval_on_selector("#doc-text", "e => e.textContent").replace("↵", "").replace("→", "")
    assert shown == TEXTS[0] and page.locator("#doc-text .tb").count() == 0
    for name in ("a", "c"):
        tokens = rd.read_tokens(rd.manifest().models[name].tokenizer)
        n_tokens = sum(1 for d, s in zip(tokens.column("doc_id").to_pylist(), tokens.column("char_start").to_pylist(),
                                         strict=True) if d == "doc0" and s >= 0)  # fmt: skip
        page.select_option("#cuts-select", value=name)
        assert page.locator("#doc-text .tb").count() == n_tokens
        assert page.eval_on_selector("#doc-text", "e => e.textContent").replace("↵", "").replace("→", "") == TEXTS[0]
    assert n_tokens > n_words  # c's tokenizer (300 entries) cuts words into pieces: more marks than words
    page.close()
    assert problems == []


def pa_equal(table, doc_id):
    import pyarrow.compute as pc

    return pc.equal(table.column("doc_id"), doc_id)
