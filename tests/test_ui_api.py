"""The web app's API endpoints through gradio_client (the app runs in this process), and `kbqa ui`'s start-up."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import CORPUS, PHASE2, make_settings
from tests.ui_fixtures import free_port

UPLOAD = (
    "# Tresco Lantern Walk\n\nThe Tresco Lantern Walk was coordinated by Morwenna Pascoe, a retired harbour master.\n"
)


def test_cli_does_not_import_gradio():
    """`kbqa ask` must not pay for gradio (~3 s): only `kbqa ui` imports it."""
    code = "import sys, kbqa.cli; kbqa.cli.build_parser(); assert 'gradio' not in sys.modules, 'gradio imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--auth", "nocolon"], "--auth 'nocolon': expected USER:PASSWORD"),
        (["--port", "70000"], "--port 70000: must be between 1 and 65535"),
    ],
)
def test_ui_command_refuses_bad_options_in_one_line(run_cli, args, message):
    proc = run_cli("ui", *args)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {message}"


# ------------------------------------------------------------------ the running app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[tuple[str, object]]:
    """The app on a fresh data folder (built from the corpus), served in this process on a free port."""
    from kbqa_ui.app import create, launch_options

    work = tmp_path_factory.mktemp("ui-api")
    settings = make_settings(work / "data", CORPUS, model_cache, ui_port=free_port(), upload_max_mb=0.05)
    demo, handlers = create(settings)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(settings))
    assert handlers.status.ready.wait(300) and handlers.status.error is None
    yield f"http://127.0.0.1:{settings.ui_port}", handlers
    demo.close()


def client(app) -> object:
    from gradio_client import Client

    return Client(app[0], verbose=False)


def ask(c, question: str, **options) -> tuple[str, str, str | None]:
    """(last answer's HTML, panel HTML, export file) after a streamed /ask."""
    job = c.submit(question=question, api_name="/ask", **options)
    for _ in job:  # the streamed updates
        pass
    chat, panel, _, export = job.result()
    text = chat[-1]["content"][0]["text"]
    return text, panel, (export or {}).get("value") if isinstance(export, dict) else export


@pytest.mark.slow
def test_ask_streams_a_cited_answer_with_its_sources(app):
    c = client(app)
    job = c.submit(question=PHASE2, api_name="/ask")
    updates = list(job)
    assert len(updates) >= 2  # "searching…" first, then the answer
    chat, panel, question_box, export = job.result()
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = chat[-1]["content"][0]["text"]
    assert "Sheffield" in answer and 'href="#kbqa-cite-0-1"' in answer
    assert 'id="kbqa-card-0-1"' in panel and "Enabling Social Action Programme" in panel
    assert question_box == ""
    markdown = Path(export["value"]).read_text(encoding="utf-8")
    assert f"## 1. {PHASE2}" in markdown and "000\\_525025c0dd7eef87.txt" in markdown


@pytest.mark.slow
def test_show_source_and_open_entry(app):
    c = client(app)
    ask(c, PHASE2)
    card = c.predict(turn=0, n=1, api_name="/show_source")
    assert 'id="kbqa-card-0-1" open' in card and '<mark class="kbqa-hl">' in card
    entry = c.predict(turn=0, n=1, api_name="/open_entry")
    assert "kbqa-entry-text" in entry and "kbqa-cited-passage" in entry and "<mark" in entry
    assert c.predict(turn=5, n=1, api_name="/show_source") == c.predict(turn=-1, n=1, api_name="/show_source")


@pytest.mark.slow
def test_follow_ups_stay_in_their_own_session(app):
    one, two = client(app), client(app)
    ask(one, "Tell me about the Imagine project.")
    ask(two, PHASE2)
    follow_one, _, _ = ask(one, "Who coordinated its cultural strand?")
    follow_two, _, _ = ask(two, "When did it end?")
    assert "Pahl" in follow_one
    assert re.search(r"searched as “[^”]*Imagine", follow_one)
    assert re.search(r"searched as “[^”]*Enabling Social Action", follow_two)
    assert "Imagine" not in re.search(r"searched as “([^”]*)”", follow_two).group(1)


@pytest.mark.slow
def test_new_conversation_forgets_the_topic(app):
    c = client(app)
    ask(c, "Tell me about the Imagine project.")
    c.predict(api_name="/new_conversation")
    fresh, _, _ = ask(c, "Who coordinated its cultural strand?")
    assert "searched as" not in fresh and 'id="kbqa-answer-0"' in fresh


@pytest.mark.slow
def test_filters_and_options(app):
    c = client(app)
    _, panel, _ = ask(c, "What is co-production?", source="001_e46ca3b02064783c.txt", k=3)
    assert set(re.findall(r"<dd>([^<]+\.txt)</dd>", panel)) == {"001_e46ca3b02064783c.txt"}
    _, panel, _ = ask(c, "What is co-production?", year_from="2019", year_to="2020")
    assert "2019" in panel or "2020" in panel


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, message",
    [
        ({"k": 99}, "Value 99 is greater than maximum value 20."),
        ({"year_from": "2020", "year_to": "2010"}, "years 2020–2010: the first year is after the last"),
        ({"mode": "telepathy"}, "Value: telepathy is not in the list of choices"),
    ],
)
def test_bad_options_are_refused_with_a_message(app, options, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=re.escape(message)):
        client(app).predict(question="What is co-production?", api_name="/ask", **options)


@pytest.mark.slow
def test_feedback_is_stored(app):
    from gradio_client.exceptions import AppError

    c = client(app)
    ask(c, PHASE2)
    reply = c.predict(turn=0, rating="down", comment="Too short.", api_name="/send_feedback")
    assert reply == "Feedback on answer 1 recorded (not helpful, with your comment). Thank you."
    stored = [f for f in app[1].feedback.all() if f.comment == "Too short."]
    assert len(stored) == 1 and stored[0].question == PHASE2 and stored[0].answer["citations"]
    with pytest.raises(AppError, match="answer 4: there is no such answer"):
        c.predict(turn=3, rating="up", api_name="/send_feedback")


@pytest.mark.slow
def test_upload_answer_remove(app, tmp_path: Path):
    from gradio_client import handle_file

    c = client(app)
    doc = tmp_path / "tresco_lantern_walk.md"
    doc.write_text(UPLOAD, encoding="utf-8")
    result = c.predict(paths=[handle_file(str(doc))], api_name="/add_documents")[0]
    assert "✓ <strong>tresco_lantern_walk.md</strong>: 1 passage, 1 entry" in result
    stored = Path(app[1].settings.data_dir) / "uploads" / "tresco_lantern_walk.md"
    assert stored.read_text(encoding="utf-8") == UPLOAD

    answer, panel, _ = ask(c, "Who coordinated the Tresco Lantern Walk?")
    assert "Morwenna Pascoe" in answer and "tresco_lantern_walk.md" in panel

    removed = c.predict(source="tresco_lantern_walk.md", api_name="/remove_source")[0]
    assert "Removed tresco_lantern_walk.md: 1 passage left the index" in removed
    assert not stored.exists()
    again, _, _ = ask(c, "Who coordinated the Tresco Lantern Walk?")
    assert "Morwenna" not in again


@pytest.mark.slow
def test_refused_uploads_say_why(app, tmp_path: Path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    (tmp_path / "tool.exe").write_bytes(b"MZ")
    with pytest.raises(AppError, match="Invalid file type"):  # Gradio checks the type before kbqa sees it
        client(app).predict(paths=[handle_file(str(tmp_path / "tool.exe"))], api_name="/add_documents")
    files = {
        "minutes.txt": b"A long meeting. " * 5000,  # over the 0.05 MB limit of this app
        "empty.md": b"",
        "corrupt.pdf": b"%PDF-1.4 this is not really a pdf",  # accepted, then skipped by the indexer
        "fine.txt": b"The Widdecombe allotment society was founded by Ada Penhallow.",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    result = client(app).predict(paths=[handle_file(str(tmp_path / n)) for n in files], api_name="/add_documents")[0]
    assert "minutes.txt</strong>: 0.1 MB is over the 0.05 MB limit per file (KBQA_UPLOAD_MAX_MB)" in result
    assert "empty.md</strong>: the file is empty" in result
    assert re.search(r"✗ <strong>corrupt.pdf</strong>: skipped, \w", result), result
    assert "✓ <strong>fine.txt</strong>" in result  # the others do not stop the good one
    uploaded = Path(app[1].settings.data_dir) / "uploads"
    assert sorted(p.name for p in uploaded.iterdir()) == ["fine.txt"]  # no copy of a refused file is kept
    client(app).predict(source="fine.txt", api_name="/remove_source")


@pytest.mark.slow
def test_questions_are_answered_while_an_upload_is_indexed(app, tmp_path: Path):
    """Indexing has its own queue group: a long upload does not hold questions up."""
    from gradio_client import handle_file

    doc = tmp_path / "long_report.txt"
    paragraphs = [
        f"Section {i}. The parish council of Widdecombe met on day {i} to weigh proposal {i * 7}." for i in range(400)
    ]
    doc.write_text("\n\n".join(paragraphs), encoding="utf-8")
    done: dict[str, float] = {}

    def upload() -> None:
        client(app).predict(paths=[handle_file(str(doc))], api_name="/add_documents")
        done["upload"] = time.monotonic()

    thread = threading.Thread(target=upload)
    thread.start()
    time.sleep(1.0)  # the upload is being embedded
    c = client(app)
    for _ in range(3):
        answer, _, _ = ask(c, PHASE2)
        assert "Sheffield" in answer
    done["questions"] = time.monotonic()
    thread.join(timeout=300)
    assert done["questions"] < done["upload"], "the questions waited for the upload to finish"
    client(app).predict(source="long_report.txt", api_name="/remove_source")
