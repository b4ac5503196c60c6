"""Evaluation: per-example metrics (``metrics``), the resident batched generator with weighted LoRA mixes
(``generator``; a vLLM backend in ``vllm_backend``), ``evaluate`` over a set (``harness``), LLM-as-judge over a
set (``judge``), IFD scoring and Self-Evolution's selection modes (``ifd``), and the runs of the ``evoforge eval`` /
``evoforge ifd`` commands (``eval_run``)."""
