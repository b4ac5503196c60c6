"""An airoboros config works as written: every per-instructor key lands where it acts, a user's prompt files are
rendered as airoboros renders them (or refused, naming file, key and placeholder), the single-pass instructors read
airoboros' inline layouts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from evoforge.agents.instructors import REGISTRY, Batch, check_prompt_files
from evoforge.cli import app
from evoforge.data.dedup import make_index
from evoforge.errors import ConfigError
from evoforge.instruct.characters import seed_examples
from evoforge.instruct.output import RecordFile, read_records
from evoforge.instruct.producers import Producers
from evoforge.settings import InstructorSettings, load_config
from evoforge.settings.airoboros import ALIASES, NOT_APPLICABLE, from_airoboros

DATA = Path(__file__).parents[1] / "data"
TOPICS = ["owls", "comets", "kites", "maps", "bridges"]


@pytest.mark.parametrize("version", ["v2.0.24", "v2.2.2"])
def test_every_key_of_airoboros_example_configs_is_honoured(version: str) -> None:
    path = DATA / f"airoboros-{version}-example.yaml"
    cfg, raw = load_config(path), yaml.safe_load(path.read_text())
    assert all(item.split(" ", 1)[0] in NOT_APPLICABLE for item in cfg.instruct.unsupported)
    for key, own in raw["instructors"].items():
        settings = cfg.instruct.instructors[ALIASES.get(key, key)].model_dump()
        for option, value in own.items():
            if value is not None and value != {}:
                assert settings[option] == value, (key, option)  # prompt_path/… as written until a run resolves them
    assert cfg.instruct.min_docsearch_score == raw["min_docsearch_score"] and cfg.instruct.language == "English"
    renamed = {"chat": "rp", "chat_card": "character"} if version == "v2.0.24" else {}
    assert {ALIASES[old] for old in renamed} <= set(cfg.instruct.instructors)


def test_vertexai_keys_make_a_litellm_vertex_model() -> None:
    data = {"model": "chat-bison", "vertexai_credentials_path": "creds.json", "vertexai_project_id": "p1"}
    out = from_airoboros({**data, "vertexai_publisher": "google", "instructors": {}})
    assert out["llm"]["models"]["airoboros"] == {
        "model": "vertex_ai/chat-bison",
        "params": {"vertex_credentials": "creds.json", "vertex_project": "p1", "vertex_location": "us-central1"},
    }
    assert out["instruct"]["unsupported"] == []


def _batch(name: str, **settings: Any) -> Batch:
    own = InstructorSettings(**settings)
    return Batch(topics=TOPICS, settings=own, topic_avoidance="Avoid X.", flesch="Keep it plain.", seed="7")


def test_coding_languages_and_related_software_as_airoboros_draws_them() -> None:
    prompt = REGISTRY["coding"].messages(_batch("coding", coding_languages=list("abcdefg"), related_software=["redis"]))
    lines = [line for line in prompt[-1]["content"].splitlines() if line.startswith(" * TSK")]
    languages = [line.split("write it for ")[1].split(" and")[0].rstrip(".") for line in lines]
    assert len(set(languages)) == 5 and set(languages) <= set("abcdefg")  # no repeats while there are enough
    assert sum("make it use redis" in line for line in lines) == 1  # one task of a batch of more than three
    small = Batch(topics=TOPICS[:3], settings=InstructorSettings(related_software=["redis"]))
    assert "redis" not in REGISTRY["coding"].messages(small)[-1]["content"]


def test_a_plain_coding_task_asks_for_bare_code_and_keeps_it_unfenced() -> None:
    coding = REGISTRY["coding"]
    sent = coding.response_messages("Write a sorter in go. PLAINFORMAT")[-1]["content"]
    assert sent.startswith("Write a sorter in go.\nWrite only the code") and "PLAINFORMAT" not in sent
    fenced = "Here it is:\n```go\npackage main\n```\nEnjoy."
    assert coding.finish_response("Sort. PLAINFORMAT", fenced) == "package main\n"
    assert coding.finish_response("Sort.", fenced) == fenced  # a task with prose keeps its response as written
    ratios = {0.0: 0, 1.0: 5}
    for ratio, plain in ratios.items():
        tasks = coding.parse("\n".join(f"TSK {i}. Sort list {i}." for i in range(1, 6)), _batch("c", plain_ratio=ratio))
        assert sum(task.endswith(" PLAINFORMAT") for task in tasks.tasks) == plain


def test_contextual_styles_and_formatting_options_as_airoboros_uses_them() -> None:
    contextual = REGISTRY["contextual"]
    settings = {"context_styles": ["jira ticket"], "formatting_options": ["YAML", "CSV"]}
    assert contextual.messages(_batch("contextual", **settings))[-1]["content"].count("is a jira ticket about") == 5
    reply = "\n".join(f"TSK {i}. Ana wrote it in {1900 + i}.\nQUESTION: When did Ana write it?" for i in range(1, 6))
    notes = [
        text.split("?", 1)[1].split("\n")[0].strip()
        for seed in range(40)
        for text in contextual.parse(
            reply, _batch("contextual", **settings).model_copy(update={"seed": str(seed)})
        ).tasks
    ]
    asked = [note for note in notes if note]
    assert set(asked) == {"Give the answer as YAML.", "Give the answer as CSV."}
    assert 0.1 < len(asked) / len(notes) < 0.3  # a fifth of the questions, as airoboros asks


@pytest.mark.parametrize(("name", "default"), [("experience", 800), ("detailed_writing", 4000)])
def test_word_count_reaches_the_responder(name: str, default: int) -> None:
    instructor = REGISTRY[name]
    assert "at least 1000 words" in instructor.response_messages("Go.", _batch(name, word_count=1000))[0]["content"]
    assert f"at least {default} words" in instructor.response_messages("Go.")[0]["content"]


def _file(tmp_path: Path, text: str | bytes, name: str = "mine.txt") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


@pytest.mark.parametrize(
    ("name", "template", "settings", "expected"),
    [
        (
            "general",
            "{batch_size} tasks in {language}. {topic_avoidance}\n{topics}\n{flesch}",
            {},
            "5 tasks in English",
        ),
        ("coding", "{languages}\n{related_software}", {"related_software": ["redis"]}, "interacting with redis."),
        ("writing", "{style_extra}", {"styles": ["sad", "evil"]}, "Additional requirements:\n- instruction 1"),
        ("experience", "At least {word_count} words.", {"word_count": 900}, "At least 900 words."),
        ("card", "{batch_size} cards, {{literal}}", {}, "5 cards, {literal}"),
    ],
)
def test_a_users_prompt_file_is_rendered_with_airoboros_values(
    tmp_path: Path, name: str, template: str, settings: dict[str, Any], expected: str
) -> None:
    batch = _batch(name, prompt_path=_file(tmp_path, template), **settings)
    [message] = REGISTRY[name].messages(batch)
    assert message["role"] == "user" and expected in message["content"]
    if name == "general":
        assert ' * TSK 2 must be related to topic: "comets"' in message["content"] and "Avoid X." in message["content"]
        assert "Keep it plain." in message["content"]


def test_a_users_response_prompt_wraps_the_instruction(tmp_path: Path) -> None:
    path = _file(tmp_path, "Answer in {language}: {instruction} ({flesch})")
    batch = _batch("contextual", response_prompt_path=path)
    [message] = REGISTRY["contextual"].response_messages("What is it?", batch)
    assert message["content"] == "Answer in English: What is it? (Keep it plain.)"
    path = _file(tmp_path, "{instruction}: {word_count} words, {third} a part", "long.txt")
    batch = _batch("detailed_writing", response_prompt_path=path, word_count=3000)
    [message] = REGISTRY["detailed_writing"].response_messages("Write it", batch)
    assert message["content"] == "Write it: 3000 words, 1000 a part"


def test_a_prompt_file_it_cannot_render_is_refused_naming_file_key_and_placeholder(tmp_path: Path) -> None:
    cases = [
        ("prompt_path", _file(tmp_path, "{batch_size} {question_type}"), r"\{question_type\}, which this instructor"),
        ("prompt_path", _file(tmp_path, b"\xff\xfe{x", "bad.txt"), "cannot be read as UTF-8"),
        ("prompt_path", _file(tmp_path, "{topics", "open.txt"), "not a valid template"),
        ("response_prompt_path", _file(tmp_path, "{instruction} {word_count}", "r.txt"), r"\{word_count\}"),
    ]
    for key, path, message in cases:
        settings = load_config(None, [f"instruct.instructors={{general: {{{key}: {path}}}}}"]).instruct
        with pytest.raises(ConfigError, match=rf"instructors\.general\.{key}: prompt file {path} .*{message}"):
            check_prompt_files(settings)
    answer = _file(tmp_path, "{instruction}", "answer.txt")
    settings = load_config(None, [f"instruct.instructors={{card: {{response_prompt_path: {answer}}}}}"]).instruct
    with pytest.raises(ConfigError, match=r"instructors\.card\.response_prompt_path: the card instructor writes its"):
        check_prompt_files(settings)


def test_prompt_paths_resolve_as_airoboros_finds_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "general.txt").write_text("mine {topics}")
    data = {"instructors": {"general": {"prompt_path": "general.txt"}, "trivia": {"prompt_path": "trivia.txt"}}}
    settings = load_config(None, [f"instruct.instructors={json.dumps(data['instructors'])}"]).instruct
    resolved = settings.with_absolute_paths().instructors
    assert resolved["general"].prompt_path == str(tmp_path / "general.txt")  # the file as written, from here
    assert resolved["trivia"].prompt_path is None  # airoboros' packaged trivia.txt: evoforge's built-in prompt


def test_config_path_and_debug_are_airoboros_spellings_and_a_bad_prompt_stops_before_a_run(tmp_path: Path) -> None:
    config = tmp_path / "airoboros.yaml"
    config.write_text(yaml.safe_dump({"model": "sim/skills", "instructors": {"general": {"prompt_path": "nope.txt"}}}))
    for command in ("generate-topics", "generate-instructions", "cull"):
        args = ["instruct", command, "--config-path", str(config), "--debug", "--runs-dir", str(tmp_path / "runs")]
        result = CliRunner().invoke(app, args)
        assert isinstance(result.exception, ConfigError) and "prompt file 'nope.txt' not found" in str(result.exception)
    assert not (tmp_path / "runs").exists()


def test_awareness_reads_both_layouts_and_writes_airoboros_records() -> None:
    awareness, batch = REGISTRY["awareness"], Batch(topics=TOPICS[:2])
    reply = (
        "QUESTION: What time is it?\nCONTEXT: It is 9 am.\nANSWER: I cannot know.\nCONTEXTUALANSWER: 9 am.\n\n"
        "QUESTION: Does the sea smell?\nCHARACTER: Ana Ruiz: a sailor in Vigo.\nANSWER: I have no nose.\n"
        "CONTEXTUALANSWER: As Ana Ruiz, yes: salt and tar."
    )  # airoboros' own unnumbered layout (a user's prompt file)
    parsed = awareness.parse(reply, batch)
    assert parsed.tasks == ["What time is it?", "Does the sea smell?"] and not parsed.skipped
    plain, informed = parsed.written[0]
    assert plain == {"instruction": "What time is it?", "response": "I cannot know.", "category": "awareness"}
    assert informed["system"] == "A chat. It is 9 am." and informed["response"] == "9 am."
    chat = parsed.written[1][1]
    assert chat["instruction"].startswith("A chat between Ana Ruiz and ") and "a sailor in Vigo." in chat["instruction"]
    assert chat["response"] == "yes: salt and tar." and chat["skip_prompt_formatting"] is True
    assert awareness.parse("TSK 1.\nQUESTION: Where am I?\nANSWER: No idea.", batch).skipped == {"unreadable_task": 1}


def test_card_writes_the_request_and_the_card_in_one_pass() -> None:
    card, batch = REGISTRY["card"], Batch(topics=TOPICS[:1])
    prompt = card.messages(batch)[-1]["content"]
    assert "Kind of task: card" in prompt and 'TSK 1 is about the topic "owls"; the card describes' in prompt
    parsed = card.parse("TSK 1.\nPROMPT: A card for an owl.\nName: its name\nANSWER:\nName: Hoot", batch)
    assert parsed.written == [
        [{"instruction": "A card for an owl.\nName: its name", "response": "Name: Hoot", "category": "card"}]
    ]
    assert card.single_pass  # no responder is asked


class _Replies:
    """A gateway that answers every request with the same text (what a model following airoboros' prompt writes)."""

    def __init__(self, text: str) -> None:
        self.text, self.sent = text, []

    async def complete(self, role: str, messages: list[dict[str, str]], **params: Any) -> str:
        self.sent.append(messages)
        return self.text


def test_airoboros_own_experience_prompt_is_one_record_written_as_the_model_wrote_it(tmp_path: Path) -> None:
    template = _file(tmp_path, "Invent a place. {flesch}\nAt least {word_count} words, in {language}.\nSETTING: ...")
    own = {"experience": {"count": 2, "prompt_path": template, "word_count": 300}}
    settings = load_config(None, [f"instruct.instructors={json.dumps(own)}", "instruct.dedup=exact"]).instruct
    reply = "SETTING:\nA cove at dawn.\n\nTake me through the cove.\n\nEXPERIENCE:\nYou step onto cold sand..."
    gateway, output = _Replies(reply), RecordFile(tmp_path / "out.jsonl")
    producers = Producers(gateway, settings, output, make_index("exact", 0.7), {"experience": TOPICS}, seed=0)
    progress = asyncio.run(producers.run())["experience"]
    output.close()
    assert "At least 300 words, in English." in gateway.sent[0][0]["content"] and len(gateway.sent) == 6
    [record] = read_records(tmp_path / "out.jsonl")  # the same setting again is no new record
    assert record == {
        "instruction": "A cove at dawn.\n\nTake me through the cove.",
        "response": "You step onto cold sand...",
        "category": "experience",
    }
    assert (
        progress.stopped == "exhausted" and progress.skipped["already_written"] + progress.skipped["too_similar"] == 5
    )


def test_detailed_writing_shows_an_example_of_seed_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writing = REGISTRY["detailed_writing"]
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "0.txt").write_text("BEGINEXAMPLE\nWrite the opening chapter of a novel.\nENDEXAMPLE")
    prompt = writing.messages(_batch("detailed_writing", seed_path=str(seeds)))[-1]["content"]
    assert "for its scale and detail only:\nBEGINEXAMPLE\nWrite the opening chapter" in prompt
    monkeypatch.chdir(tmp_path)  # airoboros' own seeds' name, no such folder here: evoforge's prompt, no example
    assert "BEGINEXAMPLE" not in writing.messages(_batch("x", seed_path="detailed_writing_seeds"))[-1]["content"]
    with pytest.raises(ConfigError, match=r"instructors\.detailed_writing\.seed_path: 'nope' is not a folder of"):
        writing.messages(_batch("x", seed_path="nope"))
    template = _file(tmp_path, "{example}\nRelate it to {topic}. {flesch}")  # airoboros' own layout: one task a reply
    [message] = writing.messages(_batch("x", seed_path=str(seeds), prompt_path=template))
    assert message["content"].startswith("BEGINEXAMPLE") and 'Relate it to "owls".' in message["content"]
    assert writing.parse("Write a saga about owls.", _batch("x", prompt_path=template)).tasks == [
        "Write a saga about owls."
    ]
    assert writing.parse("Write a saga about owls.", _batch("x")).skipped == {"no_numbered_tasks": 1}  # ours: a list


def test_an_instructors_own_topic_avoidance_replaces_the_sections(tmp_path: Path) -> None:
    data = {
        "topic_avoidance": "Avoid A.",
        "instructors": {"contextual": {"topic_avoidance": "Avoid B."}, "general": {}},
    }
    settings = load_config(_file(tmp_path, yaml.safe_dump(data), "airoboros.yaml")).instruct
    assert settings.unsupported == []
    gateway, topics = _Replies("no tasks today"), {"contextual": TOPICS, "general": TOPICS}
    output = RecordFile(tmp_path / "o.jsonl")
    asyncio.run(Producers(gateway, settings, output, make_index("exact", 0.7), topics, seed=0).run())
    output.close()
    sent = {m[-1]["content"].split("\n")[0]: m[-1]["content"] for m in gateway.sent}
    contextual, general = sent["Kind of task: contextual"], sent["Kind of task: general"]
    assert "Avoid B." in contextual and "Avoid A." not in contextual and "Avoid A." in general


def test_airoboros_packaged_card_seeds_by_either_versions_name_are_the_built_in_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # v2.0.24's chat_card.seed_path is chat_card_seeds, v2.2.2's character_seeds
    assert seed_examples("chat_card_seeds") == seed_examples("character_seeds") == seed_examples(None) != []
