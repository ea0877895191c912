"""The HTML report in a real browser (headless Chromium via Playwright): it opens from disk with no
network, its plots are drawn, and text from documents and answers is shown as text, never run.

Screenshots are kept under the pytest temp folder (the path is printed) as test artifacts.
Needs `apt-get install -y chromium` and the test extra (playwright); skipped without them, failed under CI=true.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kbqa.eval.dataset import Item
from kbqa.eval.metrics import JudgeVerdict, Record, Retrieved, item_values
from kbqa.eval.report import write_report
from kbqa.eval.summary import summarize

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)">'


def browser_or_skip():
    missing = []
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        missing.append("chromium (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("playwright (pip install -e '.[test]')")
    if missing:
        reason = f"needs {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: failing instead of skipping)", pytrace=False)
        pytest.skip(reason)
    return sync_playwright


def records() -> list[Record]:
    """A toy run: answered, declined and failed items, hostile text in a passage and an answer."""
    out = []
    for n in range(30):
        answerable = n % 6 != 0
        item = Item(
            id=f"r{n:02d}",
            question=f"Question {n} about {HOSTILE if n == 1 else 'the programme'}?",
            history=[],
            category=["single_fact", "listing", "comparison"][n % 3] if answerable else "out_of_scope",
            sources=["a.txt"] if answerable else [],
            evidence=["Sheffield and Hull"] if answerable else [],
            reference="Sheffield and Hull." if answerable else "Not in the knowledge base.",
            must=["Hull"] if answerable else [],
            abstain=not answerable,
        )
        good = n % 4 != 1
        text = "Sheffield and Hull" if good else "Leeds"
        answer = {
            "answer": f"{text} {HOSTILE if n == 1 else ''} [1]",
            "abstained": n % 6 == 0 and n % 12 != 0,
            "citations": [{"n": 1, "title": "ESA", "source": "a.txt", "text": f"Passage with {text}. {HOSTILE}"}],
        }
        rank = n % 7  # 0 = evidence not retrieved
        ranking = [Retrieved(source="a.txt", chunk_id=str(i), spans=[0] if i == rank else []) for i in range(1, 11)]
        r = Record(set=["dev", "fresh"][n % 2], item=item, answer=answer, seconds=0.02 + 0.013 * n,
                   retrieval={"hybrid": ranking}, relevant_in_index=1,
                   statements=[{"text": text, "cites": [1], "supported": good, "how": "quote" if good else None, "unneeded": []}],
                   judge={"faithfulness": JudgeVerdict(score=1.0 if good else 0.0, verdict="yes" if good else "no", reason=HOSTILE)})  # fmt: skip
        r.metrics = item_values(r)
        out.append(r)
    return out


@pytest.mark.slow
def test_the_report_opens_offline_with_its_plots_drawn_and_hostile_text_inert(tmp_path, tmp_path_factory):
    sync_playwright = browser_or_skip()
    rows = records()
    summary = summarize(rows, {"name": "toy", "started": "now", "config": {}}, {"model": "judge", "base_url": "http://x", "prompts": {"faithfulness-v1": "abc"}})  # fmt: skip
    report = tmp_path / "report.html"
    write_report(report, summary, rows)
    shots = tmp_path_factory.mktemp("eval-report-screenshots")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests, dialogs = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(report.as_uri())

        charts = page.locator("svg.chart")
        assert charts.count() == 2
        for i in range(2):
            chart = charts.nth(i)
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box and box["width"] > 300 and box["height"] > 150
            heights = [float(h) for h in chart.locator("rect").evaluate_all("els => els.map(e => e.getAttribute('height'))")]  # fmt: skip
            assert sum(h > 0 for h in heights) >= 3  # bars actually drawn
        for table in ("#metrics", "#categories", "#agreement", "#failures"):
            assert page.locator(table).is_visible(), table
        assert page.locator("#categories").inner_text().count("single_fact") == 1

        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert dialogs == []
        assert HOSTILE in page.locator("#failures").inner_text()  # shown as text
        assert requests == [report.as_uri()]  # nothing fetched: self-contained

        page.screenshot(path=str(shots / "report-top.png"))
        page.screenshot(path=str(shots / "report-full.png"), full_page=True)
        browser.close()
    print(f"\nreport screenshots: {shots}")
    assert (shots / "report-full.png").stat().st_size > 20_000
