"""The instructors that shape their tasks: per-task choices (language, style, context), or an instruction built
around the task (a context block, answer options, a list of tools)."""

from __future__ import annotations

import re
from random import Random

from evoforge.agents.instructors.base import Instructor, pick, register
from evoforge.config import InstructorSettings

CONTEXT_STYLES = ("news article", "blog post", "chat log", "email", "short story", "encyclopedia entry", "memo")
FORMATS = ("", "", "Answer in one sentence.", "Answer as a bullet list.", "Answer in JSON.", "Cite the source.")
LANGUAGES = ("python", "javascript", "java", "c", "c++", "go", "rust", "bash", "sql")
WRITING_STYLES = ("humorous", "formal", "suspenseful", "poetic", "matter-of-fact", "nostalgic")
TOOLS = (
    "search(query): finds web pages about the query.",
    "calculator(expression): evaluates an arithmetic expression.",
    "read_page(url): returns the text of a web page.",
    "answer(question, context): answers a question from a text.",
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
    formats = True  # add a formatting request (formatting_options) to some questions

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic and the style of the passage."""
        style = pick(settings.context_styles, CONTEXT_STYLES, rng)
        return f' * TSK {index} is a {style} about the topic "{topic}".'

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The passage and question in the context layout, with a formatting request now and then."""
        note = pick(settings.formatting_options, FORMATS, rng) if self.formats else ""
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
    """Programming tasks in configured languages, sometimes with related software; some ask for code only."""

    name = "coding"

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic, the language, and sometimes a piece of related software."""
        line = f' * TSK {index} is about the topic "{topic}"; write it for {pick(settings.languages, LANGUAGES, rng)}'
        if settings.related_software and rng.random() < 0.3:
            line += f" and make it use {rng.choice(settings.related_software)}"
        return line + "."

    def instruction(self, task: str, settings: InstructorSettings, rng: Random) -> str | None:
        """The task, marked ``PLAINFORMAT`` (code only, no prose) for a ``plain_ratio`` share, as airoboros does."""
        ratio = 0.5 if settings.plain_ratio is None else settings.plain_ratio
        return f"{task} PLAINFORMAT" if rng.random() < ratio else task


@register
class Writing(Instructor):
    """Creative writing in a chosen style, answered through a response prompt that keeps to the style."""

    name = "writing"
    response_prompt = "writing_response"

    def task_line(self, index: int, topic: str, settings: InstructorSettings, rng: Random) -> str:
        """The topic and the style."""
        style = pick(settings.styles, WRITING_STYLES, rng)
        return f' * TSK {index} is about the topic "{topic}"; ask for a {style} style.'


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
