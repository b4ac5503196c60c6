"""The dependent instructors (character, rp, gtkm, stylized_response, editor): their prompts, how they read the
model's replies, and the records they make; the training side reads a conversation record as a conversation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from random import Random
from typing import Any

import pytest

from evoforge.agents.instructors import REGISTRY, check_prompt_files
from evoforge.agents.instructors.characters import (
    Card,
    Character,
    Editor,
    GetToKnowMe,
    StylizedResponse,
    voice_messages,
)
from evoforge.agents.instructors.rp import Roleplay
from evoforge.data.exports import to_sharegpt
from evoforge.data.formats import normalise_row
from evoforge.errors import ConfigError
from evoforge.instruct.characters import read_cards, seed_examples, write_card
from evoforge.instruct.cull import cull_records
from evoforge.offline.sim.core import respond
from evoforge.settings import InstructorSettings, InstructSettings

ADA = Card(description="A Victorian mathematician.", stay_in_character="Always answer as Ada would.", name="Ada")
KOFI = Card(description="A taxi driver in Accra.", stay_in_character="Stay in Kofi's voice.", name="Kofi")


def _sim(messages: list[dict[str, str]], seed: int = 0) -> str:
    return respond(messages, temperature=0.7, seed=seed).text


def test_character_prompt_and_the_cards_of_a_reply_in_either_label_order() -> None:
    messages = Character().card_messages("EXAMPLE CARD", 3, InstructorSettings(), "English", ["Ada", "Kofi"])
    prompt = messages[-1]["content"]
    assert "EXAMPLE CARD" in prompt and "Write 3 new character cards" in prompt and "Ada, Kofi" in prompt
    cards, broken = Character().cards(_sim(messages))
    assert len(cards) == 3 and broken == 0 and not {"Ada", "Kofi"} & {c.name for c in cards}
    airoboros_order = "DESCRIPTION: a pirate\nNAME: Bo\nGUIDE: be Bo\n\nDESCRIPTION: no name\nGUIDE: x\nNAME: **Cy**\n"
    cards, broken = Character().cards(airoboros_order + "DESCRIPTION: half a card")
    assert [c.name for c in cards] == ["Bo", "Cy"] and broken == 1
    assert cards[0].stay_in_character == "be Bo" and cards[1].description == "no name"


def test_cards_are_stored_as_airoboros_stores_them_and_seeds_fall_back_to_the_built_in_ones(tmp_path: Path) -> None:
    write_card(tmp_path / "cards", ADA)
    [path] = (tmp_path / "cards").iterdir()
    assert path.name == ADA.file_name() and len(path.stem) == 32 and '"stay_in_character": ' in path.read_text()
    assert read_cards(tmp_path / "cards") == [ADA] and read_cards(tmp_path / "none") == []
    built_in = seed_examples("character_seeds")
    assert len(built_in) >= 3 and seed_examples(None) == built_in
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "a.txt").write_text("Imagine Bob.")
    assert seed_examples(str(tmp_path / "seeds")) == ["Imagine Bob."]
    with pytest.raises(ConfigError, match="seed_path"):
        seed_examples(str(tmp_path / "missing"))


def test_rp_reads_a_message_and_who_speaks_next() -> None:
    rp, rng = Roleplay(), Random(0)
    others = ["Kofi Mensah", "Ines"]
    text, following = rp.read_turn('Ada: *smiles* "Hello."\nNEXT: "Kofi Mensa"\nREMINDER: roleplay', "Ada", others, rng)
    assert text == '*smiles* "Hello."' and following == "Kofi Mensah"  # a misspelt name is matched
    text, following = rp.read_turn("\u201cHi.\u201d\nInes: I speak for Ines too", "Ada", others, rng)
    assert text == '"Hi."' and following in others  # no NEXT line: someone else speaks
    chat = "THE CHAT\nSetting for the chat:\nA frozen railway station.\nEnd of setting."
    system, opener = rp.speaker_prompt(chat, ADA, KOFI, ["Kofi"], "~", "")
    assert system.startswith("THE CHAT") and 'one of: ["Kofi"]' in system and "between ~ marks" in system
    assert "Always answer as Ada would." in system and "Ada" in opener
    for seed in range(5):  # the sim opens about the setting, with an action between the marks, and names Kofi
        reply = _sim([{"role": "system", "content": system}, {"role": "user", "content": opener}], seed)
        text, following = rp.read_turn(reply, "Ada", ["Kofi"], rng)
        assert (
            following == "Kofi"
            and text.startswith("~")
            and any(w in text.lower() for w in ("frozen", "railway", "station"))
        )


def test_rp_rows_are_airoboros_rows_with_the_conversation_beside_them() -> None:
    training = [
        {"role": "system", "content": "SYSTEM"},
        {"role": "user", "content": "Start the conversation."},
        {"role": "assistant", "content": "Ada: hello"},
        {"role": "user", "content": "Kofi: hi"},
        {"role": "assistant", "content": "Ada: how are you?\n\nIdris: and me"},
        {"role": "user", "content": "Kofi: trailing, never a target"},
    ]
    first, second = Roleplay().rows(training)
    assert first["instruction"] == "SYSTEM\nStart the conversation." and first["response"] == "Ada: hello"
    assert second["instruction"] == "SYSTEM\nStart the conversation.\nAda: hello\nKofi: hi"
    assert second["messages"] == training[:5] and second["skip_counting"] is True and "skip_counting" not in first
    assert first["category"] == "rp" and first["skip_prompt_formatting"] is True
    example = normalise_row(second, "row 2")[0]  # trains as a conversation: system, history, prompt, completion
    assert example.system == "SYSTEM" and [t.role for t in example.history or ()] == ["user", "assistant"]
    assert example.prompt == "Kofi: hi" and example.completion == "Ada: how are you?\n\nIdris: and me"
    assert [t["from"] for t in to_sharegpt(second)["conversations"]] == ["system", "human", "gpt", "human", "gpt"]


def test_gtkm_questions_and_its_records_up_to_the_word_limit() -> None:
    gtkm = GetToKnowMe()
    messages = gtkm.question_messages(ADA, 4, InstructorSettings())
    assert "Write 4 questions" in messages[-1]["content"] and "A Victorian mathematician." in messages[-1]["content"]
    questions = gtkm.questions(_sim(messages))
    assert len(questions) == 4 and all(q.endswith("?") for q in questions)
    assert gtkm.questions("1. QUESTION: one?\nQUESTION 2: two?\nnoise") == ["one?", "two?"]
    pairs = [(f"q{i}?", f"a{i}") for i in range(4)]
    rows = gtkm.records(ADA, "Sam", pairs, 2500)
    assert len(rows) == 3 and rows[0]["response"] == "Ada: a1" and rows[-1]["response"] == "Ada: a3"
    assert (
        rows[0]["instruction"].endswith("Sam: q0?\nAda: a0\nSam: q1?")
        and "A chat between Ada and Sam." in rows[0]["instruction"]
    )
    assert [bool(r.get("skip_counting")) for r in rows] == [False, True, True]
    assert len(gtkm.records(ADA, "Sam", pairs, 30)) < 3  # the prompt's word limit ends the chat sooner


def test_stylized_response_answers_in_voice_or_skips_a_list_of_words() -> None:
    stylized = StylizedResponse()
    messages = voice_messages(ADA, "List seven words that end in -ing.", skip=True)
    assert (
        messages[0]["role"] == "system"
        and "SKIP" in messages[0]["content"]
        and "Role to play: Ada" in messages[0]["content"]
    )
    assert _sim(messages) == "SKIP"
    answer = _sim(voice_messages(ADA, "Explain how bridges carry weight."))
    assert "SKIP" not in answer and "bridges" in answer.lower()
    record = stylized.record("Explain bridges.", answer, stylized.system_prompt(ADA))
    assert list(record) == ["category", "system", "instruction", "response"]
    assert record["system"].startswith("Take on the role of Ada.") and "Always answer as Ada" in record["system"]


def test_editor_asks_for_errors_and_the_record_asks_to_correct_them() -> None:
    editor = Editor()
    original = "Their lighthouse is older than the harbour. It was built in 1820 by the town's finest masons."
    messages = editor.spoil_messages(original, Random(3))
    prompt = messages[-1]["content"]
    assert prompt.endswith(f"Text: {original}") and 1 <= prompt.count("\n- ") <= 3
    spoiled = _sim(messages)
    assert spoiled and spoiled != original
    record = editor.exercise(spoiled, original)
    assert record["instruction"].endswith(f"Text: {spoiled}") and record["response"] == original
    assert record["category"] == "editor" and REGISTRY["editor"] is not None


def test_a_users_prompt_files_are_rendered_with_airoboros_placeholders_or_refused(tmp_path: Path) -> None:
    cards = tmp_path / "cards.txt"
    cards.write_text("Like {example}, write {batch_size} cards in {language}. {skip}\nDESCRIPTION: / NAME: / GUIDE:")
    questions = tmp_path / "questions.txt"
    questions.write_text("Ask {name} ({description}) {question_count} things, as QUESTION: lines.")
    setting = tmp_path / "setting.txt"
    setting.write_text("A scene for {characters}, about {topic}.")
    section = {
        "character": {"prompt_path": str(cards)},
        "gtkm": {"prompt_path": str(questions)},
        "rp": {"setting_prompt_path": str(setting)},
    }
    settings = InstructSettings(instructors=section)
    check_prompt_files(settings)  # every placeholder is one the instructor fills
    prompt = Character().card_messages("EX", 2, settings.instructors["character"], "French", ["Ada"])[0]["content"]
    assert prompt.startswith("Like EX, write 2 cards in French. Do not reuse any of these names: Ada.")
    asked = GetToKnowMe().question_messages(ADA, 5, settings.instructors["gtkm"])[0]["content"]
    assert asked == "Ask Ada (A Victorian mathematician.) 5 things, as QUESTION: lines."
    scene = Roleplay().setting_messages([ADA, KOFI], "tea", settings.instructors["rp"])[0]["content"]
    assert scene == "A scene for Ada: A Victorian mathematician.\n\nKofi: A taxi driver in Accra., about tea."
    (tmp_path / "place.txt").write_text("A scene in {place}.")
    with pytest.raises(ConfigError, match=r"setting_prompt_path.*\{place\}"):
        check_prompt_files(InstructSettings(instructors={"rp": {"setting_prompt_path": str(tmp_path / "place.txt")}}))
    with pytest.raises(ConfigError, match=r"instructors\.rp\.prompt_path"):
        check_prompt_files(InstructSettings(instructors={"rp": {"prompt_path": str(cards)}}))
    (tmp_path / "bad.txt").write_text("{example} {topics}")
    with pytest.raises(ConfigError, match="topics"):
        check_prompt_files(InstructSettings(instructors={"character": {"prompt_path": str(tmp_path / "bad.txt")}}))


def test_paths_are_read_from_the_working_directory_as_airoboros_reads_them(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_seeds").mkdir()
    section = {
        "character": {"seed_path": "my_seeds", "output_dir": "characters"},
        "gtkm": {"prompt_path": "gtkm.txt"},  # airoboros' own prompt's name: evoforge's built-in one
        "rp": {"setting_prompt_path": "rp_setting.txt"},
    }
    settings = InstructSettings(instructors=section).with_absolute_paths().instructors
    assert settings["character"].seed_path == str(tmp_path / "my_seeds")
    assert settings["character"].output_dir == str(tmp_path / "characters")
    assert settings["gtkm"].prompt_path is None and settings["rp"].setting_prompt_path is None
    builtin = InstructSettings(instructors={"character": {"seed_path": "character_seeds"}}).with_absolute_paths()
    assert builtin.instructors["character"].seed_path == "character_seeds"  # no such folder here: the built-in seeds
    with pytest.raises(ConfigError, match="setting_prompt_path"):
        InstructSettings(instructors={"rp": {"setting_prompt_path": "missing.txt"}}).with_absolute_paths()


def test_cull_leaves_the_records_that_repeat_a_start_or_an_instruction_on_purpose() -> None:
    owls = "Tell me a joke about owls."
    chat = Roleplay().rows(
        [
            {"role": "system", "content": "SYSTEM"},
            {"role": "user", "content": "Start."},
            {"role": "assistant", "content": "Ada: hello"},
            {"role": "user", "content": "Kofi: hi"},
            {"role": "assistant", "content": "Ada: bye"},
        ]
    )
    records = [
        {"instruction": owls, "response": "Because they give a hoot.", "category": "joke"},
        StylizedResponse().record(owls, "Hark, a hooting jest!", "Take on the role of Ada."),
        *chat,
    ]
    settings = InstructSettings(dedup="rouge", rouge_threshold=0.5)  # the chat's rows are near each other
    result = asyncio.run(cull_records(None, records, settings))  # no group: no grade asked of any model
    assert result.kept == records and result.groups == []
