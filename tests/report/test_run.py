import json
import re
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from lossgap.cli import app
from lossgap.errors import ConfigError, RunDirError
from lossgap.report import ReportConfig, run_report
from lossgap.report.html import visible_whitespace

from .synthetic import BASELINE, CANDIDATE


class _Page(HTMLParser):
    """Collects script elements, ids, links and the text of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.text: list[str] = []
        self._script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag == "script":
            self._script = attrs
            self.scripts.append((attrs, ""))

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            attrs, body = self.scripts[-1]
            self.scripts[-1] = (attrs, body + data)
        else:
            self.text.append(data)


def _page(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_run_report_writes_index_assets_and_figure_files(synthetic_run):
    run, _ = synthetic_run
    result = run_report(run.path)
    assert result.path == (run.report_dir / "index.html") and result.path.is_file()
    assert result.omitted == () and result.viewer_docs == 4
    for name in ("assets/report.css", "assets/viewer.js"):
        assert (run.report_dir / name).stat().st_size > 1000
    for key in result.figures:
        assert (run.report_dir / f"figures/{key}.svg").read_text().startswith("<?xml")
    page = _page(result.path)
    assert {f"fig-{k}" for k in result.figures} <= page.ids
    assert {"overview", "models", "corpus", "viewer", "doc-text", "tooltip"} <= page.ids
    # nothing is fetched from the network: every link and source is a fragment or a relative path
    links = re.findall(r'\b(?:src|href|xlink:href)="([^"]*)"', result.path.read_text())
    assert links and not [link for link in links if "://" in link or link.startswith("//")]


def test_run_report_records_its_config_in_the_manifest(synthetic_run):
    run, _ = synthetic_run
    run_report(run.path, ReportConfig(viewer_docs=2, extra_docs=("p1",)))
    entry = run.manifest().stages["report"]
    assert (entry.config["viewer_docs"], entry.config["extra_docs"], entry.config["top_rows"]) == (2, ["p1"], 10)
    assert entry.time
    assert run.manifest().models  # the rest of the manifest is kept


def test_document_text_with_markup_stays_inert_text(synthetic_run):
    run, _ = synthetic_run
    page = _page(run_report(run.path).path)
    # exactly two script elements: the viewer's JSON and assets/viewer.js; none from document text
    assert [(a.get("type"), a.get("src")) for a, _ in page.scripts] == [
        ("application/json", None),
        (None, "assets/viewer.js"),
    ]
    payload = json.loads(page.scripts[0][1])
    b2 = next(d for d in payload["docs"] if d["doc_id"] == "b2")
    assert "".join(p + t for p, t in zip(b2["pre"], b2["text"], strict=True)) == (
        "Alice wrote <script>alert(1)</script> and </div> & then left."
    )
    # the segment table shows the markup as text
    assert any("␣<script>alert(1)</script>" in t for t in page.text)  # leading space drawn as ␣


def test_header_shows_models_gap_and_sign_convention(synthetic_run):
    run, frame = synthetic_run
    page = _page(run_report(run.path).path)
    text = " ".join("".join(page.text).split())
    scored = frame[frame["pos"] >= 1]
    gap = (scored["loss_baseline"] - scored["loss_candidate"]).mean()
    signed = lambda x: f"{x:+.4f}".replace("-", "−")  # noqa: E731 (typographic minus)
    assert signed(gap) in text
    low, high = run.read_summary().ci_low, run.read_summary().ci_high  # four documents: an interval (min_eff_docs 2)
    assert f"95% CI [{signed(low)}, {signed(high)}]" in text
    assert "Keep in mind" in text and "only 4 documents" in text and "different contexts" in text
    assert f"gap = loss({BASELINE}, baseline) − loss({CANDIDATE}, candidate)" in text
    assert "positive gap means the candidate" in text
    assert "HuggingFaceTB/SmolLM2-135M" in text and "8,192" in text and "bfloat16" in text
    assert f"{scored['loss_baseline'].mean():.4f}" in text


def test_table_rows_link_to_the_viewer_document_and_position(synthetic_run):
    run, _ = synthetic_run
    result = run_report(run.path)
    page = _page(result.path)
    payload = json.loads(page.scripts[0][1])
    links = [h for h in page.hrefs if h.startswith("#doc-")]
    assert links
    for href in links:
        index, *pos = (int(x) for x in href[len("#doc-") :].split("-"))
        doc = payload["docs"][index]
        if pos:
            assert pos[0] in doc["pos"]
    tokens = run.result_file("top_tokens.csv").read_text().splitlines()[1]
    doc_id, pos = tokens.split(",")[2:4]
    index = [d["doc_id"] for d in payload["docs"]].index(doc_id)
    assert f"#doc-{index}-{pos}" in links


def test_report_without_optional_files_lists_what_it_left_out(synthetic_run):
    run, _ = synthetic_run
    for name in ("curves.csv", "top_segments.csv"):
        run.result_file(name).unlink()
    result = run_report(run.path, ReportConfig(viewer_docs=0))
    assert "curves" not in result.figures and result.viewer_docs == 0
    assert any("lossgap curves" in o for o in result.omitted)
    assert any("token viewer" in o for o in result.omitted)
    page = _page(result.path)
    assert "fig-curves" not in page.ids and "viewer" not in page.ids and "fig-curves-diff" in page.ids
    assert not any(a.get("src") for a, _ in page.scripts)


def _parses_as_a_command(hint: str) -> None:
    """`lossgap SUB ...` as printed: click parses it with every required option present (or raises)."""
    import re
    import shlex

    import typer

    from lossgap.cli import app

    args = shlex.split(hint)
    assert args[0] == "lossgap", hint
    group = typer.main.get_command(app)
    sub = group.get_command(None, args[1])  # type: ignore[attr-defined]
    assert sub is not None, hint
    sub.make_context(args[1], [a for a in args[2:] if not re.fullmatch(r"\(.*\)", a)])


def test_commands_the_report_and_its_errors_suggest_are_complete(synthetic_run, tmp_path):
    import re

    run, _ = synthetic_run
    for name in ("curves.csv", "categories.csv"):
        run.result_file(name).unlink()
    result = run_report(run.path)
    text = " ".join(result.omitted) + " " + result.path.read_text()
    with pytest.raises(RunDirError) as caught:
        run_report(tmp_path)
    hints = re.findall(r"`(lossgap [^`]+)`", text + str(caught.value)) + re.findall(
        r"<code>(lossgap [^<]+)</code>", text
    )
    assert {h.split()[1] for h in hints} >= {"compare", "curves", "report"}, hints
    for hint in hints:
        _parses_as_a_command(hint)


def test_rerun_removes_figure_files_whose_table_is_gone(synthetic_run):
    run, _ = synthetic_run
    run_report(run.path)
    assert (run.report_dir / "figures/curves.svg").is_file()
    run.result_file("curves.csv").unlink()
    result = run_report(run.path)
    assert not (run.report_dir / "figures/curves.svg").exists()
    assert sorted(p.stem for p in (run.report_dir / "figures").glob("*.svg")) == sorted(result.figures)


def test_report_without_results_is_a_clear_error(tmp_path):
    with pytest.raises(RunDirError, match="lossgap compare"):
        run_report(tmp_path)


def test_visible_whitespace():
    assert visible_whitespace(" the") == "␣the"
    assert visible_whitespace("a\n\tb ") == "a↵→b␣"
    assert visible_whitespace("   ") == "␣␣␣"
    assert visible_whitespace("abcdef", limit=4) == "abc…"


def test_cli_report_smoke(synthetic_run):
    run, _ = synthetic_run
    result = CliRunner().invoke(
        app, ["report", "--run", str(run.path), "--viewer-docs", "1", "--doc", "p1", "--title", "T"]
    )
    assert result.exit_code == 0, result.output
    assert "index.html" in result.output
    page = _page(run.report_dir / "index.html")
    payload = json.loads(page.scripts[0][1])
    assert [d["doc_id"] for d in payload["docs"]] == ["p1"]


def test_cli_report_errors_in_one_line_with_exit_2(tmp_path):
    result = CliRunner().invoke(app, ["report", "--run", str(tmp_path)])
    assert result.exit_code == 2
    assert "lossgap compare" in result.output
    result = CliRunner().invoke(app, ["report", "--run", str(tmp_path), "--viewer-tokens", "2"])
    assert result.exit_code == 2 and "viewer_tokens" in result.output


def test_sentences_of_the_model_note_are_separated(synthetic_run):
    import re

    run, _ = synthetic_run
    summary = run.result_file("summary.json")
    summary.write_text(
        summary.read_text().replace('"log_freq_source": ""', '"log_freq_source": "the run\'s own tokens"')
    )
    html = run_report(run.path).path.read_text()
    note = re.search(r"Tokenizer policy:.*?</p>", html, re.S)
    assert note and "Rarity (log_freq) counts" in note.group(0), note
    assert re.search(r"\.\s+Rarity", note.group(0)) and ".Rarity" not in note.group(0)


def test_notes_of_the_report_config_lead_the_keep_in_mind_box(synthetic_run):
    import re

    run, _ = synthetic_run
    html = run_report(
        run.path, ReportConfig(notes=("One model at two contexts: <not> about architectures.",))
    ).path.read_text()
    box = re.search(r'<div class="caveats" id="caveats">(.*?)</div>', html, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", box, re.S)
    assert items[0] == "One model at two contexts: &lt;not&gt; about architectures." and len(items) >= 2
    with pytest.raises(ConfigError, match="notes"):
        ReportConfig(notes=("",))


def test_contrast_table_offers_the_relative_scale(synthetic_run):
    run, _ = synthetic_run
    html = run_report(run.path).path.read_text()
    table = re.search(r'<table class="data" id="contrast-table">(.*?)</table>', html, re.S).group(1)
    assert "raw, relative" in table
    raw = run.read_results("contrasts.csv").query("method == 'raw' and scale == 'relative' and family == 'word_class'")
    assert f"{100 * raw['estimate'].iloc[0]:.1f}%" in table
