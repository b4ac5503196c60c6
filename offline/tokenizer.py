"""The tiny student's tokenizer: bytes as tokens, built locally with the ``tokenizers`` library (no download).

Every UTF-8 byte is one token (the GPT-2 byte alphabet, no merges), so any text round-trips, digits and letters
stay separate for the arithmetic and string tasks, and nothing has to be trained or fetched. Special tokens mark
the sequence start/end, padding and the chat roles; the chat template wraps assistant turns in
``{% generation %}`` so TRL's ``assistant_only_loss`` can find them.
"""

from __future__ import annotations

from typing import Any

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, BOS, EOS, *ROLE_TOKENS)

# Prompt: "<s><|user|>text<|assistant|>"; assistant turn: "answer</s>". The prompt ends on a special token, so the
# tokenized prompt is always a prefix of the tokenized prompt + completion (what TRL's completion masks assume).
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>{% generation %}{{ message['content'] }}{{ eos_token }}{% endgeneration %}"
    "{% else %}"
    "<|{{ message['role'] }}|>{{ message['content'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tokenizer(model_max_length: int = 512) -> Any:
    """A byte-level ``PreTrainedTokenizerFast`` with pad/bos/eos, role tokens and the chat template."""
    from tokenizers import Tokenizer, decoders, models
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *sorted(ByteLevel.alphabet())])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=model_max_length,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
