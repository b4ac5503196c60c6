"""Prompts as token ids, the same for every backend: the base model's chat template (or plain turns), raw text.

Both engines tokenize with the base model's own Hugging Face tokenizer, so a request is the same prompt tokens
whether PEFT or vLLM decodes it (vLLM receives the ids, not the text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class PromptTokens:
    """Turns messages and text into token ids with ``self.tokenizer`` (set by the engine)."""

    tokenizer: Any

    def chat_prompt(self, messages: Sequence[Mapping[str, str]]) -> list[int]:
        """Token ids of ``messages`` through the chat template, ending with the assistant's generation prompt."""
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
        else:  # a base model without a template: the turns as plain text
            text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant: "
        return self.encode(str(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of raw ``text`` (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])


def context_length(config: Any, tokenizer: Any) -> int:
    """A model's context window: its config's ``max_position_embeddings``, else the tokenizer's limit."""
    return int(getattr(config, "max_position_embeddings", 0) or tokenizer.model_max_length)


def eos_ids(tokenizer: Any, generation_config: Any) -> set[int]:
    """The token ids that end a completion: the tokenizer's end-of-sequence and the generation config's."""
    ids = {tokenizer.eos_token_id}
    extra = getattr(generation_config, "eos_token_id", None)
    ids |= set(extra if isinstance(extra, list) else [extra])
    return {i for i in ids if i is not None}
