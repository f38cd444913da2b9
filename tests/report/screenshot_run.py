"""Build a small synthetic run that tells the demo's story and screenshot its report.

The baseline stands for a model limited to a short context window, the candidate for the same model with
its full context: the candidate wins on repeated n-grams whose earlier copy lies beyond the window. Losses
are simulated, not scored. Run from the worktree root:

    PYTHONPATH=src:tests python -m report.screenshot_run OUT_DIR   # writes OUT_DIR/run, OUT_DIR/*.png
    PYTHONPATH=src:tests python -m report.screenshot_run OUT_DIR RUN_DIR "DOC  (DOMAIN)" TEXT   # a real run
"""

from __future__ import annotations

import sys
from pathlib import Path

from lossgap.report import ReportConfig, run_report

from .synthetic import make_run

WINDOW = 64  # the simulated baseline's context, in tokens

STORY = [
    (
        "books-017",
        "books",
        'The lighthouse keeper wrote the same line in his log every evening: "Lamp lit at dusk, sea calm, no ships '
        'sighted." For eleven years the entries did not change, and the inspectors who came each spring (two men '
        "from the harbour board, always in grey coats) read them without comment.\n\nIn the winter of the great "
        'storm the log was found open on the desk, the ink still wet: "Lamp lit at dusk, sea calm, no ships '
        'sighted." Outside, the waves had torn the railings from the gallery.',
    ),
    (
        "wiki-203",
        "encyclopedia",
        "Ludwig van Beethoven (baptised 17 December 1770 \u2013 26 March 1827) was a German composer and pianist. "
        "His works span the transition from the Classical period to the Romantic era in classical music. "
        "Born in Bonn, he showed his musical talents at an early age and was taught by his father (Johann van "
        "Beethoven) and later by the composer and conductor Christian Gottlob Neefe. At age 21 Ludwig van "
        "Beethoven moved to Vienna, where he studied composition with Joseph Haydn.",
    ),
    (
        "py-0042",
        "python",
        "def moving_average(values, window):\n"
        '    """Mean of each run of `window` consecutive values."""\n'
        "    totals = [sum(values[i:i + window]) for i in range(len(values) - window + 1)]\n"
        "    return [t / window for t in totals]\n"
        "\n\n"
        "def smooth(series, window=5):\n"
        "    if len(series) < window:\n"
        '        raise ValueError(f"need at least {window} values, got {len(series)}")\n'
        "    return moving_average(series, window)\n",
    ),
]


def _noise(pos: int, salt: int) -> float:
    """A deterministic number in [0, 1) for each position."""
    return ((pos * 2654435761 + salt * 40503) % 10007) / 10007


def story_losses(pos: int, side: str, repeat_len: int, repeat_dist: int | None) -> tuple[float, float]:
    """Simulated (baseline, candidate) losses: the short-context baseline cannot copy from beyond WINDOW."""
    fresh = 1.2 + 4.5 * _noise(pos, 1)
    wobble = 0.35 * (_noise(pos, 2) - 0.5)
    if repeat_len >= 2 and repeat_dist is not None:
        copied = 0.15 + 0.4 * _noise(pos, 3)
        if repeat_dist > WINDOW:
            return fresh, copied  # only the candidate still sees the earlier copy
        return copied + abs(wobble) / 3, copied
    if side == "close":
        return fresh, fresh - 0.25 + wobble  # long-range bracket matching helps a little
    return fresh, fresh + wobble


def shoot(index: Path, out: Path, doc: str, hover: str) -> None:
    """report-full.png (the whole page) and report-viewer.png (the viewer on `doc`, the pointer on the last
    token whose text contains `hover`, or on the token at position `hover` when it is a number)."""
    from playwright.sync_api import sync_playwright

    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 1180, "height": 900}, device_scale_factor=1)
        page.goto(index.as_uri())
        page.screenshot(path=str(out / "report-full.png"), full_page=True)
        page.select_option("#doc-select", label=doc)
        page.select_option("#filter-select", label="all tokens")
        page.evaluate("document.body.style.paddingBottom = '600px'")  # room to scroll the viewer to the top
        tokens = page.locator("#doc-text .tok")
        token = (
            tokens.and_(page.locator(f"[data-pos='{hover}']"))
            if hover.isdigit()
            else tokens.filter(has_text=hover).last
        )
        token.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -200)")
        page.wait_for_timeout(1500)  # the page scrolls smoothly
        token.hover()
        tip = page.locator("#tooltip").bounding_box()
        top = max(0, min(tip["y"], token.bounding_box()["y"]) - 260)
        page.screenshot(path=str(out / "report-viewer.png"), clip={"x": 0, "y": top, "width": 1180, "height": 620})
        browser.close()


def main(out: Path) -> None:
    run, _ = make_run(out / "run", docs=STORY, losses=story_losses)
    index = run_report(run.path, ReportConfig(title="lossgap: full context vs 64-token window (simulated)")).path
    shoot(index, out, "books-017  (books)", "sighted")


if __name__ == "__main__":
    if len(sys.argv) == 5:  # OUT_DIR RUN_DIR DOC TEXT: a real run's report (e.g. `lossgap demo`'s)
        shoot(Path(sys.argv[2]) / "report" / "index.html", Path(sys.argv[1]), sys.argv[3], sys.argv[4])
    else:
        main(Path(sys.argv[1]))
