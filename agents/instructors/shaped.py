"""The instructors that shape their tasks: per-task choices (language, style, context), or an instruction built
around the task (a context block, answer options, a list of tools)."""

from __future__ import annotations

import re
from random import Random

from evoforge.agents.instructors.base import Batch, Instructor, pick, register
from evoforge.settings import InstructorSettings

CONTEXT_STYLES = ("news article", "blog post", "chat log", "email", "short story", "encyclopedia entry", "memo")
FORMATS = ("JSON", "a bullet list", "a numbered list", "one sentence", "a markdown table", "YAML")
LANGUAGES = ("python", "javascript", "java", "c", "c++", "go", "rust", "bash", "sql")
WRITING_STYLES = ("humorous", "formal", "suspenseful", "poetic", "matter-of-fact", "nostalgic")
TOOLS = (
    "search(query): finds web pages about the query.",
    "calculator(expression): evaluates an arithmetic expression.",
    "read_page(url): returns the text of a web page.",
    "answer(question, context): answers a question from a text.",
)
PLAIN = "PLAINFORMAT"
PLAIN_REQUEST = (
    "Write only the code, as one plain text output: no introduction, no usage notes or warnings, no markdown fence "
    "around it; comment the code where it helps."
)
_QUESTION = re.compile(r"^\s*QUESTION\s*:\s*", re.MULTILINE | re.IGNORECASE)
_WRAPPED = re.compile(r"^(?:Request|Question): (.*?)\n\n(?:Functions|Tools):", re.MULTILINE | re.DOTALL)
_OPTION = re.compile(r"^\s*[A-E][).]\s+\S", re.MULTILINE)


def context_instruction(task: str, note: str = "") -> str | None:
    """airoboros' closed-context layout around a ``passage / QUESTION: question`` task (None without a question)."""
    parts = _QUESTION.split(task, maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    question = f"{parts[1].strip()} {note}".strip()
    return (
        f"BEGININPUT\nBEGINCONTEXT\nENDCONTEXT\n{parts[0].strip()}\nENDINPUT\n"
        f"BEGININSTRUCTION\n{question}\nENDINSTRUCTION"
    )


@register
class Contextual(Instructor):
    """Closed-context questions: a passage in some style, then a question answered only from it."""

    name = "contextual"
    response_prompt = "contextual_response"
    formats = True  # ask a fifth of the questions for an output format (formatting_options), as airoboros does

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic and the style of the passage."""
        style = pick(settings.context_styles, CONTEXT_STYLES, rng)
        return f' * TSK {index} is a {style} about the topic "{topic}".'

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The passage and question in the context layout, with a formatting request now and then."""
        wanted = self.formats and rng.random() < 0.2
        note = f"Give the answer as {pick(settings.formatting_options, FORMATS, rng)}." if wanted else ""
        return context_instruction(task, note)


@register
class CounterfactualContextual(Contextual):
    """Closed-context questions on a passage that changes a well-known fact: the answer follows the passage."""

    name = "counterfactual_contextual"
    response_prompt = "counterfactual_contextual_response"
    formats = False


@register
class MultipleChoice(Instructor):
    """Multiple-choice questions (some about a short passage), with lettered options."""

    name = "multiple_choice"

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic, and whether the question comes with a passage (``contextual_ratio``)."""
        ratio = 0.2 if settings.contextual_ratio is None else settings.contextual_ratio
        passage = "; start with a short passage the question is about" if rng.random() < ratio else ""
        return f' * TSK {index} is about the topic "{topic}"{passage}.'

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The question with its options; a question with fewer than two options cannot be used."""
        return task if len(_OPTION.findall(task)) >= 2 else None


@register
class Coding(Instructor):
    """Programming tasks in the configured ``coding_languages`` (drawn without repeats within a batch while there are
    enough), one task of a batch of more than three using one of the ``related_software``, as airoboros asks; a
    ``plain_ratio`` share ask for code only."""

    name = "coding"

    def choices(self, batch: Batch, rng: Random) -> tuple[list[str], int, str]:
        """Each task's language, and which task uses which related software (index -1: none)."""
        languages, size = list(batch.settings.coding_languages or LANGUAGES), len(batch.topics)
        picked = rng.sample(languages, size) if size < len(languages) else rng.choices(languages, k=size)
        software = batch.settings.related_software
        if size > 3 and software:
            return picked, rng.randrange(size), rng.choice(software)
        return picked, -1, ""

    def task_lines(self, batch: Batch, rng: Random) -> list[str]:
        """The topic and the language of each task, and the related software of one of them."""
        languages, index, software = self.choices(batch, rng)
        return [
            f' * TSK {i} is about the topic "{topic}"; write it for {languages[i - 1]}'
            + (f" and make it use {software}." if i - 1 == index else ".")
            for i, topic in enumerate(batch.topics, 1)
        ]

    def response_messages(self, instruction: str, batch: Batch | None = None) -> list[dict[str, str]]:
        """A ``PLAINFORMAT`` task is sent without the marker, with airoboros' request for bare code."""
        if instruction.endswith(PLAIN):
            instruction = f"{instruction.removesuffix(PLAIN).rstrip()}\n{PLAIN_REQUEST}"
        return super().response_messages(instruction, batch)

    def finish_response(self, instruction: str, response: str) -> str:
        """The code of a ``PLAINFORMAT`` task's response without the fence around it, as airoboros keeps it."""
        if instruction.endswith(PLAIN) and "```" in response:
            return re.split(r"```[^\n]*(?:$|[\r\n])", response)[1]
        return response

    def template_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """airoboros' coding template also takes ``{languages}`` (a line per task) and ``{related_software}``."""
        languages, index, software = self.choices(batch, rng)
        lines = "\n".join(f" * task {i} should ask the user to use {name}" for i, name in enumerate(languages, 1))
        related = f"One of the tasks should require interacting with {software}." if index >= 0 else ""
        return super().template_values(batch, rng) | {"languages": lines, "related_software": related}

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The task, marked ``PLAINFORMAT`` (code only, no prose) for a ``plain_ratio`` share, as airoboros does."""
        ratio = 0.5 if settings.plain_ratio is None else settings.plain_ratio
        return f"{task} {PLAIN}" if rng.random() < ratio else task


@register
class Writing(Instructor):
    """Creative writing in a chosen style, answered through a response prompt that keeps to the style."""

    name = "writing"
    response_prompt = "writing_response"

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic and the style."""
        style = pick(settings.styles, WRITING_STYLES, rng)
        return f' * TSK {index} is about the topic "{topic}"; ask for a {style} style.'

    def template_values(self, batch: Batch, rng: Random) -> dict[str, str]:
        """airoboros' writing template also takes ``{style_extra}``: a style for a quarter of the batch (at least
        one), from ``styles``."""
        styles, size = batch.settings.styles or [], len(batch.topics)
        chosen = rng.sample(styles, min(max(size // 4, 1 if size > 1 else 0), len(styles)))
        lines = [f"- instruction {i} should specify that the style be {style}" for i, style in enumerate(chosen, 1)]
        extra = "Additional requirements:\n" + "\n".join(lines) if lines else ""
        return super().template_values(batch, rng) | {"style_extra": extra}


class ToolUse(Instructor):
    """An instructor that wraps each task in the same tool list (``wrapper``: ``{task}`` and ``{tools}``);
    de-duplication compares the task alone."""

    wrapper: str = "{task}\n\nTools:\n{tools}"

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The task inside the wrapper, with the tools listed."""
        return self.wrapper.format(task=task, tools="\n".join(f"- {tool}" for tool in TOOLS))

    def dedup_key(self, instruction: str) -> str:
        """The request or question inside the wrapper."""
        found = _WRAPPED.search(instruction)
        return found.group(1) if found else instruction


@register
class Agent(ToolUse):
    """Function calling: a user request and a list of tools; the response picks the tool and its arguments (JSON)."""

    name = "agent"
    wrapper = (
        "Pick the one function below that best serves the request, and its arguments. "
        'Reply in JSON as {{"function": ..., "arguments": {{...}}}}.\n\nRequest: {task}\n\nFunctions:\n{tools}'
    )


@register
class Plan(ToolUse):
    """Questions answered by a plan of tool calls whose results (:evidenceN:) feed the next step."""

    name = "plan"
    wrapper = (
        "Make a step-by-step plan to answer the question with the tools below. Write each step as "
        '"Plan: ..." followed by ":evidenceN: = tool(input)", where a later input may use an earlier '
        '":evidenceN:", and end with "Answer: :evidenceN:".\n\nQuestion: {task}\n\nTools:\n{tools}'
    )
