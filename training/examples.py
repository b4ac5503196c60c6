"""How normalised records become training examples: the chat messages of a prompt, an assistant turn, and the
length policy.

Sequences longer than ``max_length`` are truncated at the end (TRL's ``keep_start``) and counted in
``training.json``; a record whose prompt alone fills ``max_length`` is dropped (it would train on nothing) and
counted; a chunk left with nothing is an error.
"""

from __future__ import annotations

from typing import Any

from evoforge.errors import DataError

# a model without a chat template (a base model) fine-tuned whole learns this one, saved with it for serving
PLAIN_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def prompt_messages(record: dict[str, Any]) -> list[dict[str, str]]:
    """The chat messages of a normalised record's prompt (system, earlier turns, then the user prompt)."""
    messages = [{"role": "system", "content": record["system"]}] if record.get("system") else []
    return [*messages, *record.get("history", []), {"role": "user", "content": record["prompt"]}]


def assistant(text: str) -> list[dict[str, str]]:
    """One assistant turn."""
    return [{"role": "assistant", "content": text}]


def prompt_length(tokenizer: Any, record: dict[str, Any]) -> int:
    """Tokens of ``record``'s prompt as the model sees it (chat template, generation prompt included)."""
    prompt = tokenizer.apply_chat_template(prompt_messages(record), add_generation_prompt=True, tokenize=False)
    return len(tokenizer(prompt, add_special_tokens=False)["input_ids"])


def fit_lengths(
    tokenizer: Any, records: list[dict[str, Any]], max_length: int, chunk: str
) -> tuple[list[dict[str, Any]], int, int, int]:
    """Apply the length policy: (kept records, how many get truncated, how many are dropped, the longest kept
    sequence in tokens after truncation).

    A record longer than ``max_length`` is kept and truncated at the end; one whose prompt alone fills
    ``max_length`` is dropped (it would train on nothing). DataError when every record would be dropped.
    """
    kept, truncated, longest_sequence = [], 0, 0
    for record in records:
        n_prompt = prompt_length(tokenizer, record)
        if n_prompt >= max_length:
            continue
        answers = [record[k] for k in ("completion", "chosen", "rejected") if k in record]
        longest = max(len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers)
        truncated += n_prompt + longest + 1 > max_length
        longest_sequence = max(longest_sequence, min(n_prompt + longest + 1, max_length))
        kept.append(record)
    if not kept:
        raise DataError(
            f"chunk '{chunk}': every prompt is at least max_length={max_length} tokens long "
            "(raise train.max_length or shorten the prompts)"
        )
    return kept, truncated, len(records) - len(kept), longest_sequence


def every_answer(record: dict[str, Any]) -> list[dict[str, Any]]:
    """A conversation as one record per assistant answer, each after the turns before it (the last answer is the
    record itself): training on them all puts the loss on every answer, as run_train.sh does, not only the last."""
    history = record.get("history", [])
    earlier = [
        {**record, "history": history[: i - 1], "prompt": history[i - 1]["content"], "completion": turn["content"]}
        for i, turn in enumerate(history)
        if turn["role"] == "assistant" and i and history[i - 1]["role"] == "user"
    ]
    return [*earlier, record]
