"""The web UI in a real browser: `kbqa ui` in a subprocess, driven through Debian's Chromium by Playwright.

Every page is watched: a request to anything but 127.0.0.1 fails the test. Screenshots of the main
screens are saved under the pytest temporary folder (the path is printed).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.fake_llm import FakeLLM, Step
from tests.support import CORPUS, PHASE2
from tests.test_ui_quality import small_run
from tests.ui_fixtures import CHROMIUM, UIServer, require_chromium, running_ui, wait_index_ready

pytestmark = pytest.mark.slow
expect.set_options(timeout=20_000)  # the machines are shared: a click's round trip can take seconds under load

ANSWER_TIMEOUT_MS = 90_000
LLM_REPLY = (
    "The Department for Digital, Culture, Media and Sport (DCMS) is working in partnership with the universities of "
    "Sheffield and Hull on Phase 2 of the Enabling Social Action programme. [1]"
)
UPLOAD_TEXT = (
    "# Tresco Lantern Walk\n\n"
    "The Tresco Lantern Walk is a winter festival co-produced by islanders and the parish council.\n\n"
    "The lantern walk was coordinated by Morwenna Pascoe, a retired harbour master.\n"
)
XSS_TEXT = (
    "Quillfeather Orchard Trust\n\n"
    "The Quillfeather orchard trust note reads <script>alert('xss')</script> and "
    '<img src=x onerror="alert(2)"> as plain words.\n'
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright launches Debian's Chromium (a small /dev/shm in containers needs the flag)."""
    require_chromium()
    args = [*browser_type_launch_args.get("args", []), "--disable-dev-shm-usage"]
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": args}


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(script=[Step(text=LLM_REPLY, chunk_delay=0.15)]) as fake:
        yield fake


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, fake_llm: FakeLLM) -> Iterator[UIServer]:
    """`kbqa ui` on an empty data folder (it builds the index from the corpus), with the fake LLM offered."""
    work = tmp_path_factory.mktemp("ui-app")
    env = {"KBQA_UI_LLM_CHOICES": json.dumps([fake_llm.url]), "KBQA_LLM_TIMEOUT": "30"}
    with running_ui(work, model_cache, work / "data", CORPUS, env=env) as server:
        yield server


@pytest.fixture(scope="module")
def ready_app(app: UIServer) -> UIServer:
    wait_index_ready(app.url)
    return app


class LocalOnly:
    """Records every request a browser context makes; `check()` fails on any host but 127.0.0.1."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def watch(self, context: BrowserContext) -> BrowserContext:
        context.on("request", lambda req: self.urls.append(req.url))
        return context

    def check(self) -> None:
        outside = [
            u
            for u in self.urls
            if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).hostname != "127.0.0.1"
        ]
        assert not outside, f"requests left the machine: {outside[:5]}"
        assert self.urls, "no request was seen: the watcher is not attached"


@pytest.fixture
def local_only(context: BrowserContext) -> Iterator[LocalOnly]:
    watcher = LocalOnly()
    watcher.watch(context)
    yield watcher
    watcher.check()


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Messages of any alert/confirm a page opens (an injected script would); dismissed at once."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    return seen


# ------------------------------------------------------------------ helpers


def open_app(page: Page, server: UIServer) -> None:
    page.goto(server.url)
    expect(page.locator("#kbqa-question textarea")).to_be_visible(timeout=30_000)


def ask(page: Page, question: str, turn: int) -> str:
    """Type a question, press Enter, wait for answer `turn` (0-based) to be complete; its text."""
    box = page.locator("#kbqa-question textarea")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(f"#kbqa-answer-{turn}")
    expect(answer).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return answer.inner_text()


def upload(page: Page, files: list[dict]) -> str:
    page.get_by_role("tab", name="Documents").click()
    page.locator("#kbqa-upload input[type=file]").set_input_files(files)
    expect(page.locator("#kbqa-upload")).to_contain_text(files[0]["name"][:8], timeout=30_000)
    page.locator("#kbqa-add").click()
    result = page.locator("#kbqa-upload-result li")
    expect(result.first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    return page.locator("#kbqa-upload-result").inner_text()


def text_file(name: str, text: str) -> dict:
    return {"name": name, "mimeType": "text/plain", "buffer": text.encode()}


# ------------------------------------------------------------------ tests


def test_first_start_builds_the_index_with_visible_progress(app: UIServer, page: Page, local_only: LocalOnly):
    open_app(page, app)
    status = page.locator("#kbqa-status-line")
    expect(status).to_contain_text("Building the index", timeout=10_000)
    expect(status).to_be_hidden(timeout=180_000)
    page.locator("#kbqa-filters").click()  # the filter choices are filled once the index is ready
    page.locator("#kbqa-f-source input").click()
    expect(page.get_by_role("option", name="000_525025c0dd7eef87.txt")).to_be_visible(timeout=10_000)


def test_answer_with_citation_link_opens_the_highlighted_passage(
    ready_app: UIServer, page: Page, local_only: LocalOnly, shots: Path
):
    open_app(page, ready_app)
    answer = ask(page, PHASE2, 0)
    assert "Sheffield" in answer and "Hull" in answer
    link = page.locator("#kbqa-answer-0 a.kbqa-cite").first
    expect(link).to_have_text("[1]")
    link.click()
    card = page.locator("#kbqa-card-0-1")
    expect(card).to_have_attribute("open", "")
    # the quoted sentence is highlighted in its passage (with any other sentence the answer quotes from it)
    expect(card.locator("mark.kbqa-hl", has_text="universities of Sheffield and Hull")).to_have_count(1)
    expect(card).to_contain_text("000_525025c0dd7eef87.txt")
    expect(card).to_contain_text("2018–2020")  # what the knowledge base records about the entry
    page.screenshot(path=shots / "chat-with-source.png", full_page=True)

    card.get_by_role("button", name="Open full entry").click()
    entry = page.locator(".kbqa-entry-text")
    expect(entry.locator("mark.kbqa-hl", has_text="Sheffield and Hull")).to_have_count(1)
    expect(entry).to_contain_text("The programme will include a range of activities")  # more than the passage
    page.get_by_role("button", name="← Back to sources").click()
    expect(page.locator("#kbqa-card-0-1")).to_have_attribute("open", "")


def test_llm_answer_streams_in_and_names_its_model(
    ready_app: UIServer, page: Page, local_only: LocalOnly, fake_llm: FakeLLM
):
    fake_llm.script = [Step(text=LLM_REPLY, chunk_delay=0.15)]
    open_app(page, ready_app)
    page.locator("#kbqa-advanced").click()
    page.locator("#kbqa-advanced input[role=listbox], #kbqa-advanced input").first.click()
    page.get_by_role("option", name=f"LLM: {fake_llm.url}").click()
    box = page.locator("#kbqa-question textarea")
    box.fill(PHASE2)
    box.press("Enter")
    # What the chat shows, read in one step: None once the final answer is there, else the streamed text so far
    read = """() => document.querySelector('#kbqa-answer-0') ? null
        : (document.querySelector('#kbqa-chat .kbqa-streaming .kbqa-answer-text') || {}).innerText || ''"""
    seen: list[str] = []
    final = page.locator("#kbqa-answer-0")
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while time.monotonic() < deadline and (text := page.evaluate(read)) is not None:
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        page.wait_for_timeout(50)
    expect(final).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert len(seen) >= 3, f"the answer did not stream in: {seen}"
    assert all(b.startswith(a) for a, b in zip(seen, seen[1:])), seen  # each state extends the last
    expect(final).to_contain_text("fake-model")  # the model is named on the answer
    expect(final.locator("a.kbqa-cite")).to_have_count(1)


def test_follow_up_uses_the_conversation(ready_app: UIServer, page: Page, local_only: LocalOnly, shots: Path):
    open_app(page, ready_app)
    ask(page, "Tell me about the Imagine project.", 0)
    follow = ask(page, "Who coordinated its cultural strand?", 1)
    assert "Pahl" in follow
    assert "searched as" in follow  # the follow-up was resolved with the first question
    page.locator("#kbqa-answer-1 a.kbqa-cite").first.click()
    expect(page.locator("#kbqa-card-1-1 mark", has_text="Kate Pahl")).to_be_visible()
    page.screenshot(path=shots / "follow-up-with-source.png", full_page=True)


def test_keyboard_only(ready_app: UIServer, page: Page, local_only: LocalOnly):
    open_app(page, ready_app)
    page.keyboard.type(PHASE2)  # the question box has the focus on load
    page.keyboard.press("Enter")
    expect(page.locator("#kbqa-answer-0")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    page.locator("body").focus()
    for _ in range(80):  # Tab through the page until the [1] link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('kbqa-cite')"):
            break
    else:
        pytest.fail("the [1] link cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#kbqa-card-0-1")).to_have_attribute("open", "")
    focused = page.evaluate("document.activeElement.closest('details') && document.activeElement.closest('details').id")
    assert focused == "kbqa-card-0-1"  # the focus moved to the opened card


def test_upload_then_answer_then_remove(ready_app: UIServer, page: Page, local_only: LocalOnly, shots: Path):
    open_app(page, ready_app)
    result = upload(page, [text_file("tresco_lantern_walk.md", UPLOAD_TEXT), text_file("minutes.txt", "")])
    assert "✓ tresco_lantern_walk.md: 1 passage, 1 entry" in result
    assert "✗ minutes.txt: the file is empty" in result  # each file's own result
    expect(page.locator("#kbqa-sources-table")).to_contain_text("tresco_lantern_walk.md")
    page.screenshot(path=shots / "upload.png", full_page=True)
    page.locator("#kbqa-upload input[type=file]").set_input_files([text_file("notes.exe", "MZ")])
    expect(page.get_by_text("Invalid file type: notes.exe")).to_be_visible()  # refused by the browser
    page.locator("[data-testid='toast-close']").first.click()

    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "Who coordinated the Tresco Lantern Walk?", 0)
    assert "Morwenna Pascoe" in answer
    page.locator("#kbqa-answer-0 a.kbqa-cite").first.click()
    expect(page.locator("#kbqa-card-0-1")).to_contain_text("tresco_lantern_walk.md")

    page.get_by_role("tab", name="Documents").click()
    page.locator("#kbqa-remove-choice input").click()
    page.get_by_role("option", name="tresco_lantern_walk.md").click()
    page.locator("#kbqa-remove").click()
    expect(page.locator("#kbqa-remove-result")).to_contain_text("Removed tresco_lantern_walk.md", timeout=60_000)
    expect(page.locator("#kbqa-sources-table")).not_to_contain_text("tresco_lantern_walk.md")

    page.get_by_role("tab", name="Ask").click()
    again = ask(page, "Who coordinated the Tresco Lantern Walk?", 1)
    assert "Morwenna" not in again
    assert (
        page.locator("#kbqa-answer-1 a.kbqa-cite").count() == 0
        or "tresco" not in page.locator("#kbqa-sources").inner_text()
    )


def test_document_html_renders_as_inert_text(ready_app: UIServer, page: Page, local_only: LocalOnly, dialogs: list):
    open_app(page, ready_app)
    result = upload(page, [text_file('quillfeather<img src=x onerror="alert(3)">.txt', XSS_TEXT)])
    assert "✓" in result and page.locator("img[src='x']").count() == 0
    page.get_by_role("tab", name="Ask").click()
    answer = ask(page, "What does the Quillfeather orchard trust note read?", 0)
    assert "<script>alert('xss')</script>" in answer  # shown as the literal text
    page.locator("#kbqa-answer-0 a.kbqa-cite").first.click()
    card = page.locator("#kbqa-card-0-1")
    expect(card).to_contain_text('<img src=x onerror="alert(2)">')
    page.wait_for_timeout(1000)  # give any injected handler time to run
    assert dialogs == []
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#kbqa-chat script, #kbqa-sources script").count() == 0
    assert page.evaluate("window.xss === undefined")


def test_two_users_keep_separate_conversations(ready_app: UIServer, browser: Browser):
    watcher = LocalOnly()
    users = [watcher.watch(browser.new_context()).new_page() for _ in range(2)]
    topics = [("Tell me about the Imagine project.", "Imagine"), (PHASE2, "Enabling Social Action")]
    for page in users:
        open_app(page, ready_app)
    for page, (question, _) in zip(users, topics):  # both ask before either follows up
        page.locator("#kbqa-question textarea").fill(question)
        page.locator("#kbqa-question textarea").press("Enter")
    for page in users:
        expect(page.locator("#kbqa-answer-0")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    for page in users:
        page.locator("#kbqa-question textarea").fill("When did it end?")
        page.locator("#kbqa-question textarea").press("Enter")
    for page, (question, topic) in zip(users, topics):
        follow = page.locator("#kbqa-answer-1")
        expect(follow).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        searched = re.search(r"searched as “(.*)”", follow.inner_text(), re.S)
        assert searched and topic in searched.group(1), follow.inner_text()  # "When did Imagine end?"
        assert page.locator("#kbqa-chat .kbqa-question").all_inner_texts() == [question, "When did it end?"]
    for page in users:
        page.context.close()
    watcher.check()


def test_feedback_and_export(ready_app: UIServer, page: Page, local_only: LocalOnly, run_cli):
    open_app(page, ready_app)
    ask(page, PHASE2, 0)
    page.locator("#kbqa-chat button[aria-label='Dislike']").last.click()
    form = page.locator("#kbqa-feedback").first
    expect(form).to_contain_text("Feedback on answer 1 recorded (not helpful)")
    form.locator("textarea").fill("It should say what the partnership does.")
    form.get_by_role("button", name="Send feedback").click()
    expect(form).to_contain_text("with your comment")
    proc = run_cli("feedback", "export", "--only", "down", data_dir=ready_app.data_dir)
    items = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(i["feedback"]["comment"] == "It should say what the partnership does." for i in items), proc.stdout

    with page.expect_download() as download:
        page.locator("#kbqa-export").click()
    markdown = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"## 1. {PHASE2}" in markdown
    assert "**The Department for Digital, Culture, Media and Sport" in markdown  # the cited sentence, in bold


def test_filters_restrict_the_sources(ready_app: UIServer, page: Page, local_only: LocalOnly):
    open_app(page, ready_app)
    page.locator("#kbqa-filters").click()
    page.locator("#kbqa-f-source input").click()
    page.get_by_role("option", name="001_e46ca3b02064783c.txt").click()
    expect(page.locator("#kbqa-active-filters")).to_contain_text("source = 001_e46ca3b02064783c.txt")
    ask(page, "What is co-production?", 0)
    cards = page.locator("#kbqa-sources details.kbqa-card")
    expect(cards.first).to_be_visible()
    sources = page.locator("#kbqa-sources dd").all_text_contents()  # closed cards too
    files = {s for s in sources if s.endswith(".txt")}
    assert files == {"001_e46ca3b02064783c.txt"}, files


def test_phone_width_layout(ready_app: UIServer, browser: Browser, shots: Path):
    watcher = LocalOnly()
    context = watcher.watch(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True))
    page = context.new_page()
    open_app(page, ready_app)
    ask(page, "Who coordinated the cultural strand of the Imagine project?", 0)
    page.screenshot(path=shots / "phone-chat.png")
    page.locator("#kbqa-answer-0 a.kbqa-cite").first.click()
    card = page.locator("#kbqa-card-0-1")
    expect(card.locator("mark").first).to_be_in_viewport(timeout=10_000)  # the panel is below the chat: scrolled to
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide at a 390 px viewport"
    page.screenshot(path=shots / "phone.png")
    context.close()
    watcher.check()


def test_quality_tab_shows_the_latest_eval_run_and_its_report(
    ready_app: UIServer, page: Page, local_only: LocalOnly, model_cache: Path, shots: Path
):
    open_app(page, ready_app)
    page.get_by_role("tab", name="Quality").click()
    expect(page.locator("#kbqa-quality")).to_contain_text("No finished evaluation run", timeout=20_000)

    work = ready_app.data_dir.parent  # kbqa ui runs there: its Quality tab reads evals/runs/ under it
    runs = small_run(work / "quality", model_cache)
    shutil.copytree(runs, work / "evals" / "runs")
    summary = json.loads(next((work / "evals" / "runs").glob("*/summary.json")).read_text())

    page.locator("#kbqa-quality-refresh").click()
    table = page.locator("#kbqa-quality table.kbqa-quality")
    expect(table).to_contain_text("dev", timeout=20_000)
    expect(table).to_contain_text(f"{summary['by_set']['dev']['answer_accuracy']:.3f}")
    page.screenshot(path=shots / "quality.png")
    with page.expect_download() as download:
        page.locator("#kbqa-quality-report").click()
    report = Path(download.value.path()).read_text(encoding="utf-8")
    assert report.startswith("<!DOCTYPE html>") and "dev" in report


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[UIServer]:
    work = tmp_path_factory.mktemp("ui-auth")
    (work / "corpus").mkdir()
    with running_ui(work, model_cache, work / "data", work / "corpus", "--auth", "reader:open sesame") as server:
        yield server


def test_login_is_required_with_auth(auth_app: UIServer, page: Page, local_only: LocalOnly):
    page.goto(auth_app.url)
    page.get_by_label("username").fill("reader")
    page.get_by_label("password").fill("wrong")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text("Incorrect Credentials")).to_be_visible(timeout=10_000)
    assert page.locator("#kbqa-question").count() == 0
    page.get_by_label("username").fill("reader")
    page.get_by_label("password").fill("open sesame")
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#kbqa-question textarea")).to_be_visible(timeout=30_000)
    page.locator("#kbqa-question textarea").fill("What is co-production?")  # this app's corpus is empty
    page.locator("#kbqa-question textarea").press("Enter")
    expect(page.locator("#kbqa-chat .kbqa-error")).to_have_text(
        "The knowledge base is empty: add documents in the Documents tab.", timeout=60_000
    )
