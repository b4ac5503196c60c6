"""One generated sequence's state and the per-token choice: sampling settings, stop strings, streaming deltas.

A :class:`Row` is one completion in a batch (a request with ``n = 3`` is three rows). The engine hands each row its
next-token logits; the row picks a token (greedy at temperature 0, else temperature + nucleus sampling), adds its
log-probability under the model (temperature 1, for the :class:`~evoforge.serve.Assistant`'s scores), finds stop
strings in its text and hands the text that is final so far to ``on_delta``: text that could still be the start
of a stop string, or a half-decoded character, is held back until it is settled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

BASE_ADAPTER = "__base__"  # PEFT's name for "no adapter" in a mixed-adapter batch
FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class Sampling:
    """How one completion is drawn.

    Attributes:
        max_tokens: the most tokens generated.
        temperature: 0 = greedy (the default); otherwise logits are divided by it before sampling.
        top_p: nucleus sampling: draw from the smallest set of tokens whose probabilities sum to ``top_p``.
        stop: strings that end the completion (not included in it).
        seed: seeds the row's random draws (sampling only), so a request can be repeated exactly.
    """

    max_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def for_choice(self, index: int) -> Sampling:
        """The sampling of choice ``index`` of a request with ``n`` choices: the seed moves on by ``index`` (as
        vLLM does), so seeded choices differ from each other yet repeat exactly."""
        return self if self.seed is None or index == 0 else replace(self, seed=self.seed + index)


@dataclass(eq=False)
class Row:
    """One completion being generated: its prompt, adapter, sampling, and what it has produced so far.

    ``on_delta(text)`` receives the completion's settled text piece by piece; ``on_done(row)`` is called once at
    the end. Setting ``cancelled`` (a client went away) ends the row at the next step and frees its batch slot.
    """

    prompt_ids: list[int]
    adapter: str = BASE_ADAPTER
    sampling: Sampling = field(default_factory=Sampling)
    on_delta: Callable[[str], None] | None = None
    on_done: Callable[[Row], None] | None = None
    tokens: list[int] = field(default_factory=list)
    logprob_sum: float = 0.0
    text: str = ""
    finish_reason: FinishReason | None = None
    cancelled: bool = False
    _emitted: int = 0
    _generator: Any = None

    @property
    def mean_logprob(self) -> float:
        """The mean log-probability of the generated tokens under the model (0.0 when none were generated)."""
        return self.logprob_sum / len(self.tokens) if self.tokens else 0.0

    def pick(self, logits: Any) -> int:
        """Choose the next token from this row's next-token ``logits`` (a 1-D float tensor)."""
        import torch

        s = self.sampling
        if s.temperature <= 0.0:
            token = int(torch.argmax(logits))
        else:
            probs = torch.softmax(logits.float() / s.temperature, dim=-1)
            if s.top_p < 1.0:
                sorted_probs, order = torch.sort(probs, descending=True)
                outside = torch.cumsum(sorted_probs, dim=-1) - sorted_probs > s.top_p
                sorted_probs[outside] = 0.0
                probs = torch.zeros_like(probs).scatter(0, order, sorted_probs)
            if self._generator is None and s.seed is not None:
                self._generator = torch.Generator().manual_seed(s.seed)
            token = int(torch.multinomial(probs, 1, generator=self._generator))
        self.logprob_sum += float(torch.log_softmax(logits.float(), dim=-1)[token])
        return token

    def advance(self, token: int, text: str, is_eos: bool) -> None:
        """Record ``token`` (``text``: the decoded completion including it) and decide whether the row is done."""
        if not is_eos:
            self.tokens.append(token)
            self.text = text
        cut = min((i for i in (self.text.find(stop) for stop in self.sampling.stop) if i >= 0), default=-1)
        if cut >= 0:
            self.text = self.text[:cut]
            self.finish_reason = "stop"
        elif is_eos:
            self.finish_reason = "stop"
        elif len(self.tokens) >= self.sampling.max_tokens:
            self.finish_reason = "length"
        elif self.cancelled:
            self.finish_reason = "cancelled"
        self._flush()

    def update(self, tokens: Sequence[int], text: str, reason: FinishReason | None) -> None:
        """Take the progress an engine tracked itself (vLLM's cumulative output: its tokens, its text with stop
        strings already cut) and stream what is new; ``reason`` ends the row."""
        self.tokens, self.text = list(tokens), text
        if reason is not None and self.finish_reason is None:
            self.finish_reason = reason
        self._flush()

    def finish(self, reason: FinishReason) -> None:
        """End the row now (e.g. the context is full, or it was cancelled before it started)."""
        if self.finish_reason is None:
            self.finish_reason = reason
        self._flush()

    def _flush(self) -> None:
        done = self.finish_reason is not None
        settled = len(self.text)
        if not done:
            hold = max((len(stop) - 1 for stop in self.sampling.stop), default=0)
            settled = max(self._emitted, settled - hold)
            while settled > self._emitted and self.text[settled - 1] == "\ufffd":  # a half-decoded character
                settled -= 1
        if settled > self._emitted and self.on_delta is not None and self.finish_reason != "cancelled":
            self.on_delta(self.text[self._emitted : settled])
        self._emitted = max(self._emitted, settled)
        if done and self.on_done is not None:
            self.on_done(self)
            self.on_done = None
