"""The public engine API: validated options, typed answer streams, conversations that own their state, the
versioned JSON schema, filters on every answerer, thread safety, and llama-index interop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

import kbqa
from kbqa.api import KnowledgeBase
from kbqa.errors import StoreError, UsageError
from kbqa.schema import Final, TextDelta
from tests.fake_llm import FakeLLM, Step
from tests.support import CORPUS, EVALS, PHASE2, SRC_000, SRC_001, in_threads, load_jsonl

ROOT = Path(__file__).resolve().parent.parent
ANSWER_SCHEMA = json.loads((ROOT / "docs" / "answer.schema.json").read_text())
INGEST_SCHEMA = json.loads((ROOT / "docs" / "ingest.schema.json").read_text())
LISTING = "Which projects did Angie Hart contribute to?"
OUT_OF_SCOPE = "What is the capital of Australia?"


def validate(data: dict, schema: dict = ANSWER_SCHEMA) -> dict:
    jsonschema.validate(data, schema)
    return data


# ---------------------------------------------------------------- the JSON contract, on real CLI output


@pytest.fixture(scope="module")
def index_dir(corpus_kb) -> Path:
    return Path(corpus_kb.settings.data_dir)


@pytest.mark.parametrize(
    ("question", "answerer", "status"),
    [(PHASE2, "extractive", "answered"), (LISTING, "catalog", "answered"), (OUT_OF_SCOPE, "extractive", "abstained")],
)
def test_cli_ask_json_matches_the_schema(run_cli, index_dir, question, answerer, status):
    done = run_cli("ask", "--json", question, data_dir=index_dir)
    assert done.returncode == 0, done.stderr
    data = validate(json.loads(done.stdout))
    assert (data["answerer"], data["status"]) == (answerer, status)
    assert data["abstained"] is (status == "abstained")
    for c in data["citations"]:
        assert 0 <= c["score"] <= 1
        assert all(0 <= s < e <= len(c["text"]) for s, e in c["highlights"]) and c["highlights"]


def test_cli_chat_json_lines_match_the_schema(run_cli, index_dir):
    done = run_cli(
        "chat",
        "--json",
        input=f"Tell me about the Imagine project.\nWho coordinated its cultural strand?\n{LISTING}\n",
        data_dir=index_dir,
    )
    assert done.returncode == 0, done.stderr
    lines = [validate(json.loads(line)) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    assert lines[1]["standalone_question"] != lines[1]["question"]  # resolved against the first turn
    assert lines[2]["answerer"] == "catalog"


def test_cli_ingest_json_matches_its_schema(run_cli, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "SRC.txt").write_bytes((CORPUS / SRC_001).read_bytes())
    done = run_cli("ingest", "--json", corpus_dir=corpus)
    assert done.returncode == 0, done.stderr
    data = validate(json.loads(done.stdout), INGEST_SCHEMA)
    assert data["files_indexed"] == 1 and data["summary"].startswith("1 file(s) indexed")


def test_llm_answer_matches_the_schema(corpus_kb):
    with FakeLLM(script=[Step("Sheffield and Hull are the partners [1].")]) as fake:
        answer = corpus_kb.ask(PHASE2, llm=fake.url)
    data = validate(answer.to_json())
    assert data["answerer"] == "llm" and data["model"] == "fake-model"
    assert data["citations"][0]["verified"] is True and data["citations"][0]["highlights"]


# ---------------------------------------------------------------- streams


def test_ask_stream_yields_typed_events_and_its_answer(corpus_kb):
    stream = corpus_kb.ask_stream(PHASE2)
    events = list(stream)
    assert all(isinstance(e, TextDelta) for e in events[:-1]) and isinstance(events[-1], Final)
    assert stream.answer is events[-1].answer
    assert stream.text == stream.answer.answer


def test_answer_drains_an_unread_stream(corpus_kb):
    stream = corpus_kb.ask_stream(PHASE2)
    assert "Sheffield" in stream.answer.answer


# ---------------------------------------------------------------- validated options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"k": 0}, "k=0"),
        ({"k": 51}, "k=51"),
        ({"k": "3"}, "k='3'"),
        ({"k": True}, "k=True"),
        ({"abstain_threshold": 1.5}, "abstain_threshold=1.5"),
        ({"answerer": "oracle"}, "unknown answerer 'oracle'"),
        ({"answerer": "llm"}, "answerer 'llm' needs an LLM"),
        ({"filters": ["year=2020-2015"]}, "the range is reversed"),
        ({"filters": ["source=nope.txt"]}, "source='nope.txt' is not indexed"),
        ({"filters": kbqa.Filters(year_from=2019)}, "give both year_from and year_to"),
    ],
)
def test_bad_options_are_one_line_usage_errors(corpus_kb, options, message):
    with pytest.raises(UsageError) as info:
        corpus_kb.ask(PHASE2, **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_asking_an_empty_index_is_an_error_not_an_implicit_ingest(settings_factory, tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("Some text about allotments.\n")
    kb = KnowledgeBase(settings_factory())
    with pytest.raises(StoreError, match="empty: run `kbqa ingest`"):
        kb.ask("What about allotments?")
    assert kb.is_empty()


def test_the_library_never_changes_the_environment(corpus_kb, settings_factory):
    before = dict(os.environ)
    kb = KnowledgeBase(corpus_kb.settings)
    kb.ask(PHASE2)
    kb.conversation().ask("Tell me about the Imagine project.")
    assert dict(os.environ) == before


# ---------------------------------------------------------------- every answerer honours the filters


def test_listing_answers_honour_year_and_keyword_filters(corpus_kb):
    everything = corpus_kb.ask(LISTING)
    assert everything.answerer == "catalog" and len(everything.citations) == 2
    in_2016 = corpus_kb.ask(LISTING, filters=["year=2016"])
    assert in_2016.answerer == "catalog" and 0 < len(in_2016.citations) < len(everything.citations)
    in_2019 = corpus_kb.ask(LISTING, filters=["year=2019"])
    assert in_2019.answerer == "catalog" and in_2019.abstained and "within the filters" in in_2019.answer
    by_keyword = corpus_kb.ask(LISTING, filters=["keyword=participatory budgeting"])
    assert by_keyword.abstained or all("participatory" in c.text.lower() for c in by_keyword.citations)


def test_forcing_the_extractive_answerer_skips_the_catalogue(corpus_kb):
    assert corpus_kb.ask(LISTING, answerer="extractive").answerer == "extractive"


# ---------------------------------------------------------------- conversations


def test_a_conversation_resolves_follow_ups_from_its_own_state(corpus_kb):
    chat = corpus_kb.conversation()
    chat.ask("Tell me about the Imagine project.")
    answer = chat.ask("Who coordinated its cultural strand?")
    assert "Kate Pahl" in answer.answer
    assert answer.standalone_question != answer.question
    # a separate conversation knows nothing of it
    alone = corpus_kb.conversation().ask("Who coordinated its cultural strand?")
    assert alone.standalone_question is None or alone.standalone_question == alone.question


def test_a_saved_conversation_restores_with_its_state(corpus_kb):
    chat = corpus_kb.conversation()
    chat.ask("Tell me about the Imagine project.")
    saved = json.loads(json.dumps(chat.messages))  # through JSON, as a UI or a file would keep it
    restored = kbqa.Conversation.from_messages(corpus_kb, saved)
    assert restored.turns == chat.turns
    assert "Kate Pahl" in restored.ask("Who coordinated its cultural strand?").answer


def test_plain_openai_messages_restore_too(corpus_kb):
    first = corpus_kb.ask("Tell me about the Imagine project.")
    plain = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.answer}]
    restored = kbqa.Conversation.from_messages(corpus_kb, plain)
    assert restored.turns[0].entry_ids  # the topic was found from the answer text
    assert "Kate Pahl" in restored.ask("Who coordinated its cultural strand?").answer


def test_new_conversation_forgets(corpus_kb):
    chat = corpus_kb.conversation()
    chat.ask("Tell me about the Imagine project.")
    chat.reset()
    assert chat.turns == [] and chat.messages == []


# ---------------------------------------------------------------- the index through the API


def test_sources_facets_and_entries(corpus_kb):
    sources = corpus_kb.sources()
    assert [s.source for s in sources] == sorted(p.name for p in CORPUS.glob("*.txt"))
    facets = corpus_kb.facets()
    assert SRC_000 in facets.sources and "participatory budgeting" in [k.lower() for k in facets.keywords]
    assert "Angie Hart" in facets.contributors
    assert facets.year_min is not None and facets.year_min <= 2013 <= facets.year_max
    answer = corpus_kb.ask(PHASE2)
    entry = corpus_kb.entry(answer.citations[0].entry_id)
    assert entry.entry.title == "Enabling Social Action Programme"
    assert "Sheffield and Hull" in entry.text and "Contributed by" in entry.text
    assert entry.text.count("Six national events") == 1  # overlapping chunks are joined once
    with pytest.raises(UsageError):
        corpus_kb.entry("nope#1")


def test_remove_drops_a_file_from_the_index(settings_factory, tmp_path):
    from tests.support import copy_corpus

    copy_corpus(tmp_path / "corpus", [SRC_000, SRC_001])
    kb = KnowledgeBase(settings_factory())
    kb.ingest()
    report = kb.remove(SRC_000)
    assert report.files_removed == 1 and report.chunks_removed > 0
    assert [s.source for s in kb.sources()] == [SRC_001]
    assert all(c.source != SRC_000 for c in kb.ask(PHASE2).citations)
    with pytest.raises(UsageError, match="not indexed"):
        kb.remove(SRC_000)


# ---------------------------------------------------------------- one knowledge base, many users


def _dev_conversations() -> list[list[str]]:
    items = load_jsonl(EVALS / "sets" / "dev.jsonl")
    return [[*item["history"], item["question"]] for item in items[:40]]


def test_eight_threads_with_their_own_conversations_get_the_answers_of_one_at_a_time(corpus_kb):
    conversations = _dev_conversations()

    def run(turns: list[str]) -> list[str]:
        chat = corpus_kb.conversation()
        return [json.dumps(chat.ask(q).to_json()["citations"]) + chat.ask_stream(q).answer.answer for q in turns]

    expected = [run(turns) for turns in conversations]
    got: dict[int, list[str]] = {}

    def worker(offset: int) -> None:
        for i in range(offset, len(conversations), 8):
            got[i] = run(conversations[i])

    assert in_threads(worker, [(n,) for n in range(8)]) == []
    assert [got[i] for i in range(len(conversations))] == expected


def test_a_fresh_knowledge_base_first_used_by_many_threads_at_once(corpus_kb, tmp_path):
    """A web server's users may all arrive before anything is loaded: opening the store must not race."""
    import shutil

    from kbqa import KnowledgeBase

    for attempt in range(3):  # the race was intermittent: a few fresh instances
        # a copy of the index at a path this process has not opened (Chroma shares one client per path)
        data_dir = shutil.copytree(corpus_kb.settings.data_dir, tmp_path / f"copy{attempt}")
        kb = KnowledgeBase(corpus_kb.settings.with_overrides(data_dir=data_dir))
        answers: list[str] = []

        def ask(kb: KnowledgeBase = kb, answers: list[str] = answers) -> None:
            answers.append(kb.ask(PHASE2).answer)

        assert in_threads(ask, [()] * 6) == []
        assert len(answers) == 6 and all("Sheffield" in a for a in answers)


# ---------------------------------------------------------------- llama-index interop


def test_as_retriever_works_inside_a_llama_index_query_engine(corpus_kb):
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    engine = RetrieverQueryEngine.from_args(corpus_kb.as_retriever(k=3), llm=MockLLM())
    response = engine.query(PHASE2)
    nodes = response.source_nodes
    assert len(nodes) == 3
    top = nodes[0].node
    assert top.metadata["source"] == SRC_000 and "Sheffield" in top.get_content()
    assert top.metadata["entry_id"].startswith(SRC_000) and 0 <= top.metadata["cosine"] <= 1
    filtered = corpus_kb.as_retriever(k=5, filters=[f"source={SRC_001}"]).retrieve(PHASE2)
    assert filtered and all(n.node.metadata["source"] == SRC_001 for n in filtered)
