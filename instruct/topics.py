"""Topics: airoboros' topic requests sent in parallel, their numbered lists parsed and de-duplicated into a file."""

from __future__ import annotations

import asyncio
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING

from evoforge.agents.writers import TopicRequest, write_topics
from evoforge.data.io import read_text
from evoforge.errors import ConfigError, DataError
from evoforge.runs import atomic_write_text
from evoforge.settings import InstructSettings

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway


def unique(items: list[str]) -> list[str]:
    """``items`` without repeats (ignoring case and surrounding space), in their first order."""
    seen: dict[str, str] = {}
    for item in items:
        seen.setdefault(item.strip().lower(), item.strip())
    return [value for key, value in seen.items() if key]


async def generate_topics(gw: Gateway, settings: InstructSettings, path: Path) -> list[str]:
    """Send ``topic_request_count`` topic requests at once (the gateway keeps them within the model's limits),
    write the de-duplicated topics to ``path`` (one a line) and return them."""
    prompt = settings.topic_prompt.replace("{topic_avoidance}", settings.topic_avoidance).strip()
    requests = [
        TopicRequest(prompt=prompt, sample=i, role=settings.topic_role, params=settings.api_params)
        for i in range(settings.topic_request_count)
    ]
    replies = await asyncio.gather(*(write_topics(gw, request) for request in requests))
    topics = unique([topic for reply in replies for topic in reply.topics])
    if not topics:
        raise DataError(
            f"no topic came back from {len(requests)} requests (the replies held no numbered list); "
            "check instruct.topic_prompt and the topic writer's model"
        )
    await asyncio.to_thread(atomic_write_text, path, "".join(t + "\n" for t in topics))
    return topics


def read_topics(path: Path) -> list[str]:
    """The topics of a file, one a line (blank lines and repeats dropped).

    Raises:
        ConfigError: the file is missing or holds no topic.
        DataError: the file is a folder or not UTF-8 text (binary data, another encoding), naming the line.
    """
    if not path.exists():
        raise ConfigError(f"topics file not found: {path} (run `evoforge instruct generate-topics` first)")
    topics = unique(read_text(path, "topics").splitlines())
    if not topics:
        raise ConfigError(f"topics file {path} holds no topic")
    return topics


def instructor_topics(settings: InstructSettings, name: str, topics: list[str], seed: int) -> list[str]:
    """Instructor ``name``'s topics (its own ``topics_path``, else the run's), in an order of its own for the seed,
    so that instructors do not all write about the same topics in the same order."""
    own = settings.instructors[name].topics_path
    chosen = read_topics(Path(own)) if own else list(topics)
    Random(f"{seed}|{name}").shuffle(chosen)
    return chosen
