"""Tiny causal LMs and LoRA adapters built from configs for tests and benchmarks (no downloads).

Import them as ``from evoforge.testing.tiny_models import ...``:

- ``build_tokenizer(path)``: a byte-level BPE tokenizer (any language, incl. Chinese) with bos/eos/pad tokens and a
  chat template, saved to ``path``.
- ``build_tiny_lm(path, seed=0)``: a random-init 2-layer Llama (hidden 64, ~70K params) plus that tokenizer,
  saved as a Hugging Face model dir; returns ``path``.
- ``build_lora_adapter(model_path, out_dir, seed, r=4, alpha=8)``: a LoRA adapter on q/v/o projections with
  random (non-zero) A and B, saved with ``save_pretrained``; returns ``out_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}{{ eos_token }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
_CORPUS = [
    "What is 12 plus 30? The answer is 42.",
    "Reverse the word 'hello': olleh. Uppercase 'abc': ABC.",
    "Write a short list of three fruits: apple, banana, cherry.",
    'Answer in JSON with keys name and age: {"name": "Ada", "age": 36}',
    "The quick brown fox jumps over the lazy dog. #### 7",
    "5G需要提供更高的传输速率，更低的网络时延和更大规模的连接支持能力。",
    "移动通信经历了模拟信号到数字信号以及2G、3G、4G的发展历程。",
]


def build_tokenizer(path: Path, vocab_size: int = 400) -> object:
    """Train a byte-level BPE on a fixed corpus and save it as a ``PreTrainedTokenizerFast`` to ``path``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        padding_side="left",
        chat_template=CHAT_TEMPLATE,
    )
    fast.save_pretrained(path)
    return fast


def save_random_llama(path: Path, seed: int, hidden_size: int, layers: int, **fields: Any) -> Path:
    """Save a randomly initialised Llama (seeded; MLP width 2 × hidden, tied embeddings) to ``path``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        tie_word_embeddings=True,
        **fields,
    )
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def build_tiny_lm(path: Path, seed: int = 0, hidden_size: int = 64, layers: int = 2) -> Path:
    """Save a random-init tiny Llama and its tokenizer to ``path`` (a HF model dir); returns ``path``."""
    tokenizer: Any = build_tokenizer(path)
    return save_random_llama(
        path,
        seed,
        hidden_size,
        layers,
        vocab_size=len(tokenizer),
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def build_lora_adapter(model_path: Path, out_dir: Path, seed: int, r: int = 4, alpha: int = 8) -> Path:
    """Save a LoRA adapter for the model at ``model_path`` with random A and B (so it changes outputs)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_path)
    config = LoraConfig(r=r, lora_alpha=alpha, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    torch.manual_seed(seed)
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, 0.5)
    model.save_pretrained(str(out_dir))
    return out_dir
