"""The ``self_evolve`` section: Self-Evolution's loop (seed 003), its command-line parameters as YAML keys.

The keys are the seed's flags (``start_id``, ``end_id``, ``source_data_file``, ``model_path``, ``eval_data``,
``eval_to_path``, ``mode``, ``train_epoch``, ``ifd_k``, ``batch_size``, ``worker_number``, ``use_vllm``,
``infer_gpu``, ``cuda_device``; its ``identify`` is the run id), with the defaults of the paper where it has one;
LoRA rank, alpha, learning rate and batch size come from the ``train`` section (r 8, α 16 by default, as there).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from evoforge.settings.sections import Section


class SelfEvolveSettings(Section):
    """Rounds in which the model writes Q&A about knowledge fragments and learns them closed-book."""

    start_id: int = Field(0, ge=0, description="First round; above 0 continues an existing run from that round.")
    end_id: int = Field(8, gt=0, description="Rounds run are start_id .. end_id - 1.")
    source_data_file: str | None = Field(
        None,
        description="Knowledge fragments: a JSON list of {instruction: fragment} (Self-Evolution's format). None = "
        "the skills world's made-up facts (n_fragments of them).",
    )
    n_fragments: int = Field(48, gt=0, description="Without source_data_file: the skills world's fragments.")
    model_path: str = Field(
        "tiny-reader",
        description="The base model: a local Hugging Face directory, or tiny-reader (the offline student pre-trained "
        "to read a fragment and to write and answer a question about it; it knows none of the facts).",
    )
    eval_data: str | None = Field(
        None,
        description="Closed-book evaluation: a JSON list of {instruction, input: question, output: answer}. None = "
        "every question of the skills world's fragments.",
    )
    eval_to_path: str | None = Field(
        None,
        description="Where each generation's predict JSON goes (<eval_to_path>/<run id>_generations/generation_<i>); "
        "None = the run directory's eval folder.",
    )
    mode: Literal["random", "easy", "even", "hard", "all"] = Field(
        "hard", description="Which earlier Q&A are replayed, ranked by IFD (hard = the highest IFD first)."
    )
    ifd_k: int = Field(5, ge=0, description="Earlier Q&A replayed beside a round's fresh ones (0 = none).")
    drop_above_one: bool = Field(
        False, description="Leave out earlier Q&A with IFD > 1 before choosing (Cherry's filter; off in the seed)."
    )
    train_epoch: float = Field(1.0, gt=0, description="Epochs per round (continuing the previous round's adapter).")
    batch_size: int = Field(
        5,
        gt=0,
        description="Fragments per writer call (the seed's size of data chunks); the model writes them in generate "
        "batches of at most eval.batch_size prompts and eval.max_batch_tokens padded tokens.",
    )
    worker_number: int = Field(1, gt=0, description="Concurrent generation batches (LLM calls with generator llm).")
    use_vllm: bool = Field(False, description="Generate with vLLM (the vllm extra, a GPU) instead of transformers.")
    infer_gpu: int = Field(1, gt=0, description="GPUs vLLM generates on (its tensor parallel size; with use_vllm).")
    cuda_device: int | None = Field(
        None,
        ge=0,
        description="The GPU (a physical id, as CUDA_VISIBLE_DEVICES counts) the run trains on, first of the "
        "infer_gpu GPUs vLLM uses; None = as the environment says.",
    )
    export_merged: bool = Field(
        False, description="Also save each round's model merged into a full Hugging Face folder (rounds/<i>/merged)."
    )
    generator: Literal["model", "llm"] = Field(
        "model",
        description="Who writes each round's Q&A: the current model itself (the paper), or the agents' gateway "
        "(role generator; for a student too weak to bootstrap).",
    )
    temperature: float = Field(0.5, ge=0, description="Sampling temperature of the Q&A (0 = greedy).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling of the Q&A.")
    max_new_tokens: int = Field(64, gt=0, description="Most tokens of a question, an answer, an eval prediction.")
    ifd_max_length: int = Field(1024, gt=8, description="Tokens of question + answer scored by IFD (the seed's).")
    language: Literal["auto", "en", "zh"] = Field(
        "auto", description="Language of the Q&A prompts; auto = Chinese when the fragments mostly are."
    )
    review_sample: int = Field(5, ge=0, description="Q&A shown at the human checkpoint before each round's training.")

    @model_validator(mode="after")
    def _rounds(self) -> SelfEvolveSettings:
        if self.end_id <= self.start_id:
            raise ValueError(f"end_id ({self.end_id}) must be above start_id ({self.start_id})")
        return self
