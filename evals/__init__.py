"""Evaluation: per-example metrics (``metrics``), the resident batched generator with weighted LoRA mixes and
``evaluate`` (``harness``; a vLLM backend in ``vllm_backend``), LLM-as-judge over a set (``judge``), IFD scoring and
Self-Evolution's selection modes (``ifd``), and the ``evoforge eval`` / ``evoforge ifd`` commands (``commands``)."""
