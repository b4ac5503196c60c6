"""``Assistant``: batched multi-turn inference in Python, as the data-efficient-training seed offers it.

>>> assistant = Assistant("tiny", adapters={"strings": "runs/abc/rounds/1/adapters/strings-sft"})
>>> responses, scores = assistant.inference([{"messages": [{"role": "user", "content": "Reverse 'abc'."}]}])

``scores[i]`` is the mean log-probability (natural log, ≤ 0) of response ``i``'s tokens under the model that wrote
it, end-of-sequence token excluded: higher means the model was surer of its answer, and it compares answers of
different lengths. (The seed's README returns ``scores`` beside the responses without saying what they are; a
per-token mean is the figure that stays comparable across lengths and across experts.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evoforge.errors import DataError
from evoforge.serve.decoding import Row, Sampling
from evoforge.serve.engine import LoraEngine
from evoforge.serve.experts import AUTO, BASE, Expert
from evoforge.serve.identity import IDENTITY_FILE, read_identity, with_identity
from evoforge.serve.lmoe import LMoE, RouterSettings, UnknownModel, build_lmoe
from evoforge.serve.model_sources import looks_like_run, resolve_experts

log = logging.getLogger("evoforge.serve")
Adapters = Mapping[str, str | Path] | Sequence[str | Path] | str | Path


class Assistant:
    """A model (+ LoRA experts) answering conversations in batches, greedy by default.

    Args:
        model_or_run: a Hugging Face model directory, a hub id (``org/name``: from the hub cache, downloaded first
            when the hub can be reached), ``tiny`` (the offline student), or the id of a cycle run in ``runs_dir``
            (its round ``round_n``, default the latest: deltas, train@all and the best merge).
        adapters: LoRA adapter directories: one, several (named after their folders), or ``{name: dir}``.
        identity_file: the identity file; its first line becomes every conversation's system prompt (when the
            file exists). The default is the seed's ``./model_identity.txt``; None: no identity.
        max_new_tokens: the default answer length; ``max_batch``: conversations decoded together.
        trust_remote_code: let a model that ships its own code (Baichuan2, …) run it; off unless you opt in (the
            seed always passed True).
        max_context: prompt + answer tokens at most (the seed's README caps a context at 2048); default, and at
            most, the model's context. A longer conversation loses its oldest turns first (logged as a warning).

    A context may name its ``expert``; without one it goes to ``auto`` (routed by the experts' training
    instructions) when the experts have some, to the only adapter when there is one, else to the base model.
    """

    def __init__(
        self,
        model_or_run: str | Path,
        adapters: Adapters | None = None,
        *,
        identity_file: Path | None = Path(IDENTITY_FILE),
        runs_dir: Path = Path("runs"),
        round_n: int | None = None,
        device: str = "auto",
        max_new_tokens: int = 256,
        max_batch: int = 16,
        trust_remote_code: bool = False,
        max_context: int | None = None,
    ) -> None:
        named = _named(adapters)
        if looks_like_run(str(model_or_run), runs_dir) and not named:
            base, experts = resolve_experts(run=str(model_or_run), round_n=round_n, runs_dir=runs_dir)
        else:
            base, experts = resolve_experts(base=str(model_or_run), adapters=named)
        identity = read_identity(identity_file) if identity_file is not None and identity_file.is_file() else ""
        self.lmoe: LMoE = build_lmoe(
            base,
            experts,
            router=RouterSettings(),
            identity=identity,
            device=device,
            trust_remote_code=trust_remote_code,
        )
        assert isinstance(self.lmoe.engine, LoraEngine)  # the PEFT backend: batches are decoded in this thread
        self.engine: LoraEngine = self.lmoe.engine
        self.default_expert = _default(self.lmoe, experts)
        self.max_new_tokens = max_new_tokens
        self.max_batch = max_batch
        self.max_context = min(max_context or self.engine.context, self.engine.context)

    def inference(
        self,
        contexts: Sequence[Mapping[str, Any]],
        *,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
    ) -> tuple[list[str], list[float]]:
        """Answer each context ``{"messages": [...], "expert"?: name}``; returns (responses, scores) in order.

        Raises:
            DataError: a context has no messages, or names a model that is not loaded.
        """
        sampling = Sampling(max_new_tokens or self.max_new_tokens, temperature, top_p)
        conversations = [_messages(n, c) for n, c in enumerate(contexts, 1)]
        models = [str(c.get("expert") or self.default_expert) for c in contexts]
        rows = [Row(self._prompt(n, messages, sampling.max_tokens), "", sampling) for n, messages in
                enumerate(conversations, 1)]  # fmt: skip
        for model in sorted(set(models)):
            picked = [i for i, m in enumerate(models) if m == model]
            texts = [
                next((t["content"] for t in reversed(conversations[i]) if t["role"] == "user"), "") for i in picked
            ]
            try:
                routes = asyncio.run(self.lmoe.route(model, texts))
            except UnknownModel:
                raise DataError(f"model '{model}' is not loaded; loaded: {', '.join(self.lmoe.models)}") from None
            for i, route in zip(picked, routes, strict=True):
                rows[i].adapter = self.lmoe.adapter(route.expert)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i].prompt_ids))
        for start in range(0, len(order), self.max_batch):
            self.engine.run([rows[i] for i in order[start : start + self.max_batch]])
        return [row.text.strip() for row in rows], [row.mean_logprob for row in rows]

    def _prompt(self, n: int, messages: list[dict[str, str]], answer_tokens: int) -> list[int]:
        """Context ``n``'s prompt with the identity, its oldest turns dropped until ``answer_tokens`` more fit."""
        kept = list(messages)
        ids = self.engine.chat_prompt(with_identity(kept, self.lmoe.identity))
        while len(ids) + answer_tokens > self.max_context and len(kept) > 1 + (kept[0]["role"] == "system"):
            del kept[1 if kept[0]["role"] == "system" else 0]
            ids = self.engine.chat_prompt(with_identity(kept, self.lmoe.identity))
        if len(kept) < len(messages):
            log.warning("context %d: %d earlier turn(s) left out to fit %d tokens", n, len(messages) - len(kept),
                        self.max_context)  # fmt: skip
        return ids


def _named(adapters: Adapters | None) -> dict[str, str]:
    if adapters is None:
        return {}
    if isinstance(adapters, Mapping):
        return {str(name): str(path) for name, path in adapters.items()}
    paths = [adapters] if isinstance(adapters, str | Path) else list(adapters)
    return {Path(path).name: str(path) for path in paths}


def _default(lmoe: LMoE, experts: Sequence[Expert]) -> str:
    if lmoe.router is not None:
        return AUTO
    return experts[0].name if len(experts) == 1 else BASE


def _messages(n: int, context: Mapping[str, Any]) -> list[dict[str, str]]:
    messages = context.get("messages")
    if not isinstance(messages, list) or not messages:
        raise DataError(f"context {n}: expected a non-empty 'messages' list of {{role, content}}")
    try:
        return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]
    except (KeyError, TypeError):
        raise DataError(f"context {n}: every message needs a 'role' and a 'content'") from None
