"""Serving what the loop learned: LoRA experts over one base model (airoboros' LMoE) behind an OpenAI-compatible
API (:mod:`.api`), the :class:`Assistant` inference API and the model's identity (the data-efficient-training
seed), and a chat UI (:mod:`.chat_ui`). Heavy libraries load only when a model is built."""

from evoforge.serve.assistant import Assistant

__all__ = ["Assistant"]
