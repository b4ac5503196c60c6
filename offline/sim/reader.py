"""How the simulated LLM reads a request: which task the prompt asks for, and the parts it names.

It sees only what a real model sees — the chat messages — and recognises the task by the markers our prompt
templates use in every language (``#Instruction#:``, ``#Trajectories#:``, ``#Current Method#:`` ...). A message
with none of them is an instruction to answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_METHOD = re.compile(r"#Current Method#:\s*```[^\n]*\n(?P<method>.*?)\n```", re.DOTALL)
_FEEDBACK = re.compile(r"#Feedback#:\s*\n(?P<feedback>.*?)\n\s*\n[^\n]*\n```Optimized Method", re.DOTALL)
_JUDGE_MARKER = re.compile(r"^#(?P<name>Question|Reference Answer|Answer|Answer A|Answer B)#:", re.MULTILINE)
_PLAYING = re.compile(r"^Rules for playing (.+?):$", re.MULTILINE)
_CHARACTER_KINDS = {
    "character card": "cards",
    "chat setting": "setting",
    "get-to-know-me questions": "questions",
    "rewrite with errors": "spoil",
}
AIROBOROS_TASKS = re.compile(r'^ \* TSK \d+ must be related to topic: "', re.MULTILINE)  # airoboros' own prompts
TOPIC_REQUEST = re.compile(r"numbered list of (\d+)\b[^\n]*?\btopics", re.IGNORECASE)  # airoboros' topic prompts
_SCHEMA = re.compile(r"JSON schema:\s*(\{.*\})\s*$", re.DOTALL)


@dataclass
class Request:
    """What a prompt asks: ``task`` (evolve, breadth, analyze, optimize, grade, compare, answer) and its parts."""

    task: str
    parts: dict[str, str] = field(default_factory=dict)
    language: str = "en"
    json_key: str | None = None  # the property to wrap a text answer in, when JSON output is requested


def _content(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI content parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def language_of(text: str) -> str:
    """``ko`` for Hangul, ``zh`` for Chinese characters, else ``en``."""
    if _HANGUL.search(text):
        return "ko"
    return "zh" if _CJK.search(text) else "en"


def _between(text: str, start: str, end: str | None = None) -> str:
    body = text.split(start, 1)[1]
    return (body.split(end, 1)[0] if end and end in body else body).strip()


def _json_key(system: str, response_format: dict[str, Any] | None) -> str | None:
    """The first required property of the requested JSON schema ("response" when JSON has no schema)."""
    if not response_format or response_format.get("type") not in ("json_object", "json_schema"):
        return None
    schema: Any = (response_format.get("json_schema") or {}).get("schema")
    if schema is None and (m := _SCHEMA.search(system)):
        try:
            schema = json.loads(m.group(1))
        except json.JSONDecodeError:
            schema = None
    required = (schema or {}).get("required") or list((schema or {}).get("properties") or {})
    return str(required[0]) if required else "response"


def _judge_sections(text: str) -> dict[str, str]:
    """The judge prompt's sections by marker name (markers stand at the start of a line)."""
    marks = list(_JUDGE_MARKER.finditer(text))
    return {
        m["name"]: text[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
        for i, m in enumerate(marks)
    }


def read_request(messages: list[dict[str, Any]], response_format: dict[str, Any] | None = None) -> Request:
    """Recognise the task of a chat request (the first user message decides; later turns are repair requests)."""
    system = "\n".join(_content(m) for m in messages if m.get("role") == "system")
    user = next((_content(m) for m in messages if m.get("role") == "user"), "")
    key = _json_key(system, response_format)
    if "#Trajectories#:" in user:
        parts = {"trajectories": _between(user, "#Trajectories#:")}
        return Request("analyze", parts, language_of(system + user), key)
    if "#Current Method#:" in user and "#Feedback#:" in user:
        method, feedback = _METHOD.search(user), _FEEDBACK.search(user)
        parts = {
            "method": method["method"] if method else "",
            "feedback": feedback["feedback"].strip() if feedback else _between(user, "#Feedback#:"),
        }
        return Request("optimize", parts, language_of(parts["method"] + parts["feedback"]), key)
    judged = _judge_sections(user)
    if "Question" in judged and "Answer A" in judged:
        parts = {"question": judged["Question"], "reference": judged.get("Reference Answer", "")}
        parts |= {"a": judged["Answer A"], "b": judged.get("Answer B", "")}
        return Request("compare", parts, language_of(user), key)
    if "Question" in judged and "Answer" in judged:
        parts = {"question": judged["Question"], "reference": judged.get("Reference Answer", "")}
        parts["answer"] = judged["Answer"]
        return Request("grade", parts, language_of(user), key)
    if "#Given Prompt#:" in user:
        return Request("breadth", {"instruction": _between(user, "#Given Prompt#:", "#Created Prompt#:")}, "en", key)
    if "#Instruction#:" in user:
        cut = user.rfind("#Instruction#:")
        text = user[:cut].strip()
        parts = {"method": text, "instruction": user[cut + len("#Instruction#:") :].strip()}
        return Request("evolve", parts, language_of(text), key)
    last = _content(messages[-1]) if messages else ""
    return _character_request(system, user, last, key) or _instruct_request(user, key)


def _character_request(system: str, user: str, last: str, key: str | None) -> Request | None:
    """The dependent instructors' requests: a chat message or an answer as a character (its system prompt names
    the role), or a request that names its kind of task (cards, setting, questions, a rewrite with errors)."""
    if playing := _PLAYING.search(system):
        task = "rp_turn" if "NEXT:" in system else "in_voice"
        return Request(task, {"system": system, "name": playing.group(1), "message": last}, "en", key)
    kind = _CHARACTER_KINDS.get(user.split("\n", 1)[0].removeprefix("Kind of task:").strip())
    return Request(kind, {"prompt": user}, "en", key) if kind else None


def _instruct_request(user: str, key: str | None) -> Request:
    """airoboros' writers (an instructor's batch, a wrapped response, a topic list), else an answer."""
    if user.startswith("Kind of task:") or AIROBOROS_TASKS.search(user):
        return Request("instruct_tasks", {"prompt": user}, "en", key)
    if user.startswith("#Request#:"):
        return Request("instruct_answer", {"instruction": user[len("#Request#:") :].strip()}, "en", key)
    if topics := TOPIC_REQUEST.search(user):
        return Request("instruct_topics", {"n": topics.group(1)}, "en", key)
    return Request("answer", {"instruction": user.strip()}, language_of(user), key)
