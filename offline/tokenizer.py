"""The tiny student's tokenizer: a byte-level BPE trained locally on the skills world with ``tokenizers``.

The alphabet is every UTF-8 byte (GPT-2's byte alphabet), so any text round-trips, in any language; merges are
learned from the skills world's tasks, so an instruction is about 32 tokens instead of about 100 bytes, and
pre-training sees three times as many tasks for the same compute. Digits are always split one by one (arithmetic
needs each digit, as in LLaMA's tokenizer). Training is deterministic (the same corpus gives the same vocabulary)
and takes about a second. Special tokens mark the sequence start/end, padding and the chat roles; the chat template
wraps assistant turns in ``{% generation %}`` so TRL's ``assistant_only_loss`` can find them.

A real model's vocabulary (32k-152k) is far more than such a corpus has merges for: ``fill_to`` pads the learned
vocabulary up to an exact size with filler pieces (lower-case letter strings, ``aa``, ``ab``, ..., each with the
merge that builds it, ranked after the learned ones), so the embedding and LM head have the real shape and a random
model's output decodes to short pieces that encode back to about as many tokens, as a real vocabulary's would.
"""

from __future__ import annotations

import itertools
import json
import string
from collections.abc import Iterable
from typing import Any

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, BOS, EOS, *ROLE_TOKENS)
VOCAB_SIZE = 1024  # specials + 256 bytes + merges; the skills world's words and phrases fit with room to spare

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


def build_tokenizer(
    corpus: Iterable[str] | None = None,
    model_max_length: int = 512,
    vocab_size: int = VOCAB_SIZE,
    fill_to: int | None = None,
) -> Any:
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``corpus`` (None = no merges: one token per byte),
    with pad/bos/eos, the role tokens and the chat template; ``fill_to`` pads it to exactly that many tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if corpus is None:
        vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *sorted(alphabet)])}
        core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    else:
        core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )
    core.decoder = decoders.ByteLevel()
    if corpus is not None:
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=2,
            special_tokens=list(SPECIAL_TOKENS),
            initial_alphabet=alphabet,
            show_progress=False,
        )
        core.train_from_iterator(corpus, trainer=trainer)
    if fill_to is not None:
        core = _filled(core, fill_to)
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


def _filled(core: Any, size: int) -> Any:
    """``core`` with filler pieces (``aa``, ``ab``, ..., ``aaa``, ...) and their merges appended up to ``size`` ids."""
    from tokenizers import Tokenizer

    data = json.loads(core.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    if size < len(vocab):
        raise ValueError(f"cannot fill a vocabulary of {len(vocab)} tokens to {size}")
    merges: list[list[str]] = data["model"]["merges"]
    letters = string.ascii_lowercase
    pieces = ("".join(p) for n in itertools.count(2) for p in itertools.product(letters, repeat=n))
    for piece in pieces:  # in length order, so each piece's prefix is already in the vocabulary
        if len(vocab) >= size:
            break
        if piece not in vocab:
            vocab[piece] = len(vocab)
            merges.append([piece[:-1], piece[-1]])
    return Tokenizer.from_str(json.dumps(data))
