"""airoboros' agent router (``--agent-router`` with an LMoE package that has a ``function`` expert): the package's
own ``function`` adapter, on the served base model, reads the other experts' descriptions and answers which one
should reply, in airoboros' routing prompt (``airoboros/lmoe/api.py``: ``ROUTING_PROMPT_TEMPLATE``, 16 new tokens,
temperature 0.3, top-p 0.8). Its answer is read as airoboros reads it: ``"function": "<name>"``, else the first
expert's name quoted in it. When it names no expert, the fallback router decides (airoboros falls back to its
``reasoning`` expert; here the embedding router over the package's routing data).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence

from evoforge.serve.decoding import Row, Sampling
from evoforge.serve.routing import Route, Router

FUNCTION = "function"
ROUTING_PROMPT = """A chat.
USER: As an AI assistant, choose the correct function from the list of available functions below, according to the user's request. Your response should be in JSON format.

Input: {instruction}

Available functions:
{functions}
ASSISTANT: """  # noqa: E501  (airoboros' prompt, verbatim)
SAMPLING = Sampling(max_tokens=16, temperature=0.3, top_p=0.8, stop=("USER:",), seed=0)
log = logging.getLogger("evoforge.serve")


def routing_prompt(instruction: str, descriptions: Mapping[str, str]) -> str:
    """airoboros' routing prompt for ``instruction`` over the experts ``descriptions``."""
    functions = "\n".join(f"{name}:\n description: {text}" for name, text in descriptions.items())
    return ROUTING_PROMPT.format(instruction=instruction, functions=functions)


def chosen_expert(answer: str, names: Sequence[str]) -> str | None:
    """The expert airoboros reads in the router's ``answer``: ``"function": "x"``, else a quoted expert name."""
    found = re.search(r'"function":\s*"([^"]+)"', answer, re.I)
    if found is None and names:
        found = re.search('"(' + "|".join(re.escape(n) for n in names) + ')"', answer, re.I)
    return found.group(1) if found else None


class FunctionRouter:
    """The ``function`` adapter picks the expert; ``fallback`` decides when it names none.

    Args:
        complete: decodes one :class:`Row` (the LMoE's :meth:`~evoforge.serve.lmoe.LMoE.complete`).
        encode: raw text → token ids (the engine's tokenizer).
        descriptions: expert name → description (``description.txt``), the function expert itself excluded.
        fallback: the router used when the answer names no expert.
    """

    def __init__(
        self,
        complete: Callable[[Row], Awaitable[Row]],
        encode: Callable[[str], list[int]],
        descriptions: Mapping[str, str],
        fallback: Router,
    ) -> None:
        self.complete = complete
        self.encode = encode
        self.descriptions = {name: text for name, text in descriptions.items() if name != FUNCTION}
        self.fallback = fallback

    async def route(self, texts: Sequence[str]) -> list[Route]:
        """Ask the function adapter about each text, one after another (as airoboros does)."""
        return [await self._one(text) for text in texts]

    async def _one(self, text: str) -> Route:
        row = await self.complete(Row(self.encode(routing_prompt(text, self.descriptions)), FUNCTION, SAMPLING))
        name = chosen_expert(row.text, list(self.descriptions))
        if name in self.descriptions:
            return Route(name, "agent", f"the function adapter answered {row.text.strip()[:60]!r}")
        log.info("the function adapter named no expert (%r); falling back", row.text.strip()[:60])
        [route] = await self.fallback.route([text])
        why = f"the function adapter named no expert ({row.text.strip()[:40]!r})"
        return Route(route.expert, route.router, f"{why}; {route.detail}")
