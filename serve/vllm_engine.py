"""The vLLM backend (``--backend vllm``; the ``vllm`` extra, on a GPU): the same experts as vLLM multi-LoRA.

One ``AsyncLLMEngine`` (vLLM V1's ``AsyncLLM``) holds the base model with ``enable_lora``; every expert is a
``LoRARequest`` and each row is one ``generate`` call with its expert's request (none for the base), so vLLM batches
rows for different experts together and schedules continuously (a request joins the running batch at the next
step). Prompts are token ids from the base model's own tokenizer (:class:`~evoforge.serve.prompting.PromptTokens`),
so both backends see the same prompts; routing, the API and its limits are the backend-independent LMoE's.
Cancelling a row's stream cancels the task iterating its ``generate``, and vLLM aborts a request whose generator
is cancelled. Every argument is built by :mod:`evoforge.serve.vllm_args` (tested without vllm); this module only
makes the calls, written against vLLM's documented API (``AsyncEngineArgs``, ``AsyncLLMEngine.from_engine_args``,
``generate(prompt, sampling_params, request_id, lora_request=…)``, ``SamplingParams``, ``TokensPrompt``,
``vllm.lora.request.LoRARequest``, ``shutdown``). It has not been run here: no GPU (see docs/serving.md).
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.decoding import Row
from evoforge.serve.engine_api import Stream, open_stream
from evoforge.serve.prompting import PromptTokens, context_length, eos_ids
from evoforge.serve.vllm_args import (
    INSTALL_HINT,
    LoraSlot,
    apply_output,
    engine_arguments,
    lora_slots,
    sampling_arguments,
    slot_for,
)


class VllmEngine(PromptTokens):
    """The base model and its experts' adapters for vLLM; :meth:`start` loads them into an ``AsyncLLMEngine``.

    Args:
        base: a local Hugging Face model directory.
        adapters: expert name → PEFT adapter directory.
        engine_args: more ``AsyncEngineArgs`` (``--vllm-arg``), e.g. ``gpu_memory_utilization``.

    Raises:
        ConfigError: vllm is not installed (with the install hint), or an adapter is not a PEFT directory.
    """

    def __init__(
        self,
        base: Path | str,
        adapters: Mapping[str, Path | str] | None = None,
        engine_args: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            import vllm  # noqa: F401  (only to fail early, with the hint)
        except ImportError:
            raise ConfigError(INSTALL_HINT) from None
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig

        self.base = Path(base)
        self.slots: dict[str, LoraSlot] = lora_slots(adapters or {})
        self.adapters: list[str] = list(self.slots)
        self.engine_args = dict(engine_args or {})
        remote = bool(self.engine_args.get("trust_remote_code"))  # vLLM's own argument, also for transformers here
        self.tokenizer = AutoTokenizer.from_pretrained(self.base, trust_remote_code=remote)
        config = AutoConfig.from_pretrained(self.base, trust_remote_code=remote)
        self.context = int(self.engine_args.get("max_model_len") or context_length(config, self.tokenizer))
        try:
            generation: Any = GenerationConfig.from_pretrained(self.base)
        except OSError:  # the model has no generation_config.json
            generation = None
        self.eos_ids = eos_ids(self.tokenizer, generation)

    def start(self, max_batch: int) -> VllmDecoder:
        """Load the model and every adapter into vLLM, running at most ``max_batch`` sequences together."""
        from vllm import AsyncEngineArgs, AsyncLLMEngine, SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.lora.request import LoRARequest

        arguments = engine_arguments(
            self.base, self.slots, max_batch=max_batch, context=self.context, extra=self.engine_args
        )
        try:
            args = AsyncEngineArgs(**arguments)
        except TypeError as error:  # an unknown --vllm-arg
            raise ConfigError(f"vLLM's engine arguments: {error}") from None
        loras = {name: LoRARequest(s.name, s.lora_int_id, s.path) for name, s in self.slots.items()}
        engine = AsyncLLMEngine.from_engine_args(args)
        return VllmDecoder(engine, self.slots, loras, self.eos_ids, SamplingParams, TokensPrompt)


@dataclass(eq=False)
class VllmDecoder:
    """Rows as vLLM requests: one task per row iterating ``engine.generate`` onto the row's stream.

    Attributes:
        engine: the ``AsyncLLMEngine``.
        slots: each expert's LoRA slot; ``loras``: its ``LoRARequest``, by expert name.
        eos: the end-of-sequence token ids (left out of a completion's tokens).
        sampling_params, tokens_prompt: vLLM's ``SamplingParams`` and ``TokensPrompt`` (passed in, so that this
            class imports nothing of vllm itself).
    """

    engine: Any
    slots: Mapping[str, LoraSlot]
    loras: Mapping[str, Any]
    eos: set[int]
    sampling_params: Callable[..., Any]
    tokens_prompt: Callable[..., Any]
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def submit(self, row: Row) -> Stream:
        """Start ``row`` as a vLLM request with its expert's ``LoRARequest``; read it from the returned stream."""
        slot = slot_for(self.slots, row.adapter)
        lora = self.loras[slot.name] if slot is not None else None
        prompt = self.tokens_prompt(prompt_token_ids=list(row.prompt_ids))
        params = self.sampling_params(**sampling_arguments(row.sampling))
        stream = open_stream(row)
        task = asyncio.get_running_loop().create_task(self._generate(row, stream, prompt, params, lora))
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._ended, row))
        stream.on_cancel = task.cancel
        return stream

    def _ended(self, row: Row, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        row.finish("cancelled")  # a no-op when the row has finished; else it was cancelled (perhaps before it began)

    async def _generate(self, row: Row, stream: Stream, prompt: Any, params: Any, lora: Any) -> None:
        request_id = f"evoforge-{uuid.uuid4().hex}"
        try:
            async for output in self.engine.generate(prompt, params, request_id, lora_request=lora):
                completion = output.outputs[0]
                apply_output(row, completion.token_ids, completion.text, completion.finish_reason, self.eos)
        except Exception as error:  # reported to the request, never lost in the task
            stream.fail(error)
        else:
            row.finish("stop")  # a no-op once vLLM has reported how the row finished

    def close(self) -> None:
        """Shut the engine down (a request still running fails with vLLM's error)."""
        self.engine.shutdown()
