"""The instructors read the model's lists robustly, the airoboros config loads, the output file survives a kill."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from config_files import config_error

from evoforge.agents.instructors import REGISTRY, Batch, parse_tasks
from evoforge.agents.instructors.characters import Dependent
from evoforge.agents.writers import filtered_by, parse_topics
from evoforge.errors import ConfigError, DataError
from evoforge.instruct.output import RecordFile, read_records
from evoforge.offline.sim.writers import tasks_reply
from evoforge.settings import load_config
from evoforge.settings.instruct import INSTRUCTOR_OPTIONS

NAMES = sorted(REGISTRY)
TASK_WRITERS = [name for name in NAMES if not isinstance(REGISTRY[name], Dependent)]  # the second pass has no TSK list


def test_every_declared_instructor_is_built() -> None:
    assert sorted(INSTRUCTOR_OPTIONS) == NAMES and len(NAMES) >= 19


@pytest.mark.parametrize("name", TASK_WRITERS)
def test_each_instructor_reads_its_list_and_counts_what_it_skips(name: str) -> None:
    instructor, batch = REGISTRY[name], Batch(topics=["lighthouses", "comets", "owls"])
    prompt = instructor.messages(batch)[-1]["content"]
    assert f"Kind of task: {name}" in prompt and "TSK 3 is" in prompt and '"comets"' in prompt
    good = tasks_reply(prompt, __import__("random").Random(0))  # the simulated instructor's well-formed answer
    parsed = instructor.parse(good, batch)
    assert len(parsed.tasks) == 3 and not parsed.skipped
    # malformed replies: counted skips, never an exception
    assert instructor.parse("Here are some ideas:\n- one\n- two", batch).skipped == {"no_numbered_tasks": 1}
    assert instructor.parse("", batch).skipped == {"empty_reply": 1}
    messy = "Sure! Here you go.\n" + good + "\nTSK 4.\nTSK 5. one more"
    parsed = instructor.parse(messy, batch)
    assert len(parsed.tasks) == 3
    assert parsed.skipped == {"text_before_tasks": 1, "empty_task": 1, "extra_task": 1}
    for instruction in parsed.tasks:
        record = instructor.record(instruction, "an answer")
        assert record["category"] == name and record["instruction"] == instruction
        assert ("system" in record) == (instructor.system is not None)


@pytest.mark.parametrize("name", ["contextual", "counterfactual_contextual", "multiple_choice"])
def test_a_task_its_instructor_cannot_read_is_skipped(name: str) -> None:
    parsed = REGISTRY[name].parse("TSK 1. a passage and no question or options", Batch(topics=["x"]))
    assert parsed.tasks == [] and parsed.skipped == {"unreadable_task": 1}


def test_contextual_tasks_take_airoboros_closed_context_layout() -> None:
    parsed = REGISTRY["contextual"].parse("TSK 1. In 1901 Ana wrote it.\nQUESTION: Who wrote it?", Batch(topics=["x"]))
    [text] = parsed.tasks
    assert text.startswith("BEGININPUT\nBEGINCONTEXT\nENDCONTEXT\nIn 1901 Ana wrote it.\nENDINPUT\nBEGININSTRUCTION\n")
    assert text.endswith("ENDINSTRUCTION") and "Who wrote it?" in text


def test_numbering_variants_and_topics() -> None:
    assert parse_tasks("**TSK 1.** a\nTSK 2: b\nTSK 3) c").tasks == ["a", "b", "c"]
    assert parse_topics("Topics:\n1. Owls\n2) Comets\n3. Themes:\nnot numbered").topics == ["Owls", "Comets"]


def test_response_filters_are_case_insensitive_regexes() -> None:
    assert filtered_by("As an AI, I think so.", ["as an? (ai|bot)"]) == "as an? (ai|bot)"
    assert filtered_by("I'm sorry, no.", []) == "apology" and filtered_by("  ", []) == "empty response"
    assert filtered_by("Owls hunt at night.", ["as an? (ai|bot)"]) is None


AIROBOROS = """\
model: "gpt-4"
openai_api_key: sk-not-a-real-key-123456
organization_id: org-1
output_path: instructions.jsonl
topics_path: topics.txt
overwrite: false
append: true
topic_avoidance: Avoid politics.
response_filters:
  - "my programming"
max_tokens: 5000
min_docsearch_score: 0.35
api_params: {temperature: 0.7, top_p: 0.5, frequency_penalty: 0.0, presence_penalty: 2}
topic_prompt: Give me a numbered list of 20 completely random topics. {topic_avoidance}
topic_request_count: 20
default_count: 100
default_batch_size: 5
default_flesch: Write it for a college reader.
language: English
bot_name: AIROBOROS
instructors:
  general:
    api_params: {temperature: 0.7}
    count: 100
    batch_size: 10
    prompt_path: general.txt
    topics_path:
    min_docsearch_score:
  coding:
    count: 50
    plain_ratio: 0.5
    coding_languages: [python, go]
    model: gpt-3.5-turbo
  riddles: {count: 7, batch_size: 5, prompt_path: riddles.txt}
  inline_qa: {count: 10}
"""


def test_an_airoboros_config_loads_and_names_what_it_cannot_honour(tmp_path: Path) -> None:
    path = tmp_path / "airoboros.yaml"
    path.write_text(AIROBOROS)
    cfg = load_config(path)
    settings = cfg.instruct
    assert cfg.llm.models["airoboros"].model == "gpt-4" and cfg.llm.models["airoboros"].params == {
        "organization": "org-1"
    }
    assert cfg.llm.max_tokens_total == 5000 and cfg.llm.roles["responder"].model == "airoboros"
    assert cfg.llm.roles["instructor_coding"].model == "airoboros_coding" and settings.instructors["coding"].role
    assert settings.count("general") == 100 and settings.batch_size("general") == 10 and settings.count("riddle") == 7
    assert settings.params("general")["presence_penalty"] == 2 and settings.instructors["coding"].coding_languages == [
        "python",
        "go",
    ]
    assert settings.default_flesch and settings.topic_avoidance == "Avoid politics."
    unsupported = "\n".join(settings.unsupported)
    for named in ("openai_api_key (line 2): not", "bot_name", "instructors.inline_qa (line 35): not applicable"):
        assert named in unsupported
    assert "prompt_path" not in unsupported and len(settings.unsupported) == 3
    assert "sk-not-a-real-key" not in cfg.to_yaml()  # the key is never copied
    # airoboros' own prompt of an instructor is evoforge's built-in one; another name that is no file is refused
    assert settings.instructors["general"].prompt_path == "general.txt"
    with pytest.raises(ConfigError, match=r"instructors\.riddle\.prompt_path: prompt file 'riddles.txt' not found"):
        settings.with_absolute_paths()
    del settings.instructors["riddle"]
    assert settings.with_absolute_paths().instructors["general"].prompt_path is None


def test_a_bad_instructor_option_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"instruct": {"instructors": {"joke": {"coding_languages": ["go"]}}}}))
    with pytest.raises(Exception, match=r"instructors\.joke\.coding_languages: only coding"):
        load_config(path)


def test_the_output_file_drops_a_torn_last_line_and_refuses_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    out = RecordFile(path)
    out.append({"instruction": "a", "response": "b", "category": "joke"})
    out.close()
    with path.open("a") as handle:
        handle.write('{"instruction": "half')  # a kill -9 mid-write
    again = RecordFile(path)
    assert again.counts == {"joke": 1} and path.read_text().endswith("}\n")
    again.close()
    path.write_text('{"instruction": "a", "category": "joke"}\nnot json\n{"instruction": "c", "category": "joke"}\n')
    with pytest.raises(DataError, match="line 2"):
        read_records(path)


def test_an_error_in_an_airoboros_config_names_the_file_the_line_and_the_key(tmp_path: Path) -> None:
    path = tmp_path / "airoboros.yaml"
    path.write_text(
        "model: gpt-4\n"
        "default_count: -3\n"
        "max_tokens: 0\n"
        "instructors:\n"
        "  riddles:\n"
        "    count: -1\n"
        "  coding:\n"
        "    prompt_path: coding.txt\n"
    )
    message = config_error(path)
    assert str(path) in message
    assert "instruct.default_count (line 2, key default_count): Input should be greater than or equal to 0" in message
    assert "llm.max_tokens_total (line 3, key max_tokens)" in message
    assert "instruct.instructors.riddle.count (line 6, key instructors.riddles.count)" in message
    path.write_text("model: gpt-4\nbot: x\ninstructors:\n  coding:\n    prompt_path: coding.txt\n  simple_task: {}\n")
    unsupported = load_config(path).instruct.unsupported  # what cannot be honoured names its line too
    assert unsupported[0].startswith("bot (line 2): ")
    assert unsupported[1].startswith("instructors.simple_task (line 6): not applicable: airoboros' shared generator")
