"""The LLM gateway: every model call of every agent goes through :class:`LLMGateway`.

It maps agent roles to model entries (``llm.roles`` → ``llm.models``) with per-role sampling, serves repeated
requests from the response cache shared by all runs, limits concurrency and request rate per model (both in SQLite
and this process, or in the run-state database and across processes: :mod:`.postgres`), retries transient faults
(timeouts, 429, 5xx) with exponential backoff, falls back to other models, asks for structured output, accounts
tokens and cost per role, and stops the run cleanly when the budget is spent. Inside a LangChain run with callbacks
(a LangGraph node's) each call is reported as a chat-model call (:mod:`.langchain`). API keys are read from the
environment at call time and never appear in an error, a log line, an event, a callback, the manifest or the
response cache.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from evoforge.errors import BudgetExceeded, ConfigError, LLMError, LLMTransportError, StructuredOutputError
from evoforge.llm.backend import ModelFailed, api_key_of, call_kwargs, ensure_provider_for, litellm_module
from evoforge.llm.batch import BatchDesk, collector
from evoforge.llm.cache import CachedResponse, request_key, response_cache_path
from evoforge.llm.faults import describe, is_transient, retry_after
from evoforge.llm.limits import SingleFlight
from evoforge.llm.postgres import gateway_stores
from evoforge.llm.protocol import Messages
from evoforge.llm.structured import parse_output, repair_messages, schema_request, validation_problems
from evoforge.llm.usage import UsageLedger
from evoforge.settings import LLMSettings, ModelEntry, RoleSettings

if TYPE_CHECKING:
    from evoforge.llm.langchain import GatewayChatModel
    from evoforge.runs import RunDir

T = TypeVar("T", bound=BaseModel)
_CHAT_MODULE = "evoforge.llm.langchain"  # imported on first use, off the event loop (it takes most of a second)
_chat_module: Any = None  # set once that import has finished (sys.modules also holds a half-imported module)


def _run_has_callbacks() -> bool:
    """Whether this call is made inside a LangChain run (e.g. a LangGraph node's) that has callback handlers."""
    config_module = sys.modules.get("langchain_core.runnables.config")  # not imported: there is no LangChain run
    config = config_module.var_child_runnable_config.get() if config_module is not None else None
    callbacks = config.get("callbacks") if config else None
    return bool(getattr(callbacks, "handlers", callbacks))  # a callback manager, or a list of handlers


class LLMGateway:
    """Role-based access to LLMs with caching, limits, retries, fallbacks, structured output and accounting.

    Args:
        settings: the ``llm`` configuration section.
        cache_path: the response-cache file; defaults to the shared cache (:func:`response_cache_path`) when
            ``run`` is given, else no cache. Ignored when ``settings.cache`` is False. It stores answers,
            never keys.
        run: the run directory: usage goes into its manifest on :meth:`close`, faults into its events, and a
            resumed run's earlier usage counts against the budget.
        database_url: the run-state database: the response cache and per-model limits live there, shared.
    """

    def __init__(
        self,
        settings: LLMSettings,
        cache_path: Path | None = None,
        run: RunDir | None = None,
        database_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.run = run
        if cache_path is None and run is not None:
            cache_path = response_cache_path(settings)
        self._cache, self._limits = gateway_stores(settings, cache_path, database_url)
        self._ledger = UsageLedger(settings.max_cost_usd, settings.max_tokens_total)
        if run is not None:
            self._ledger.load(run.manifest().get("llm_usage") or {})
        self._flights = SingleFlight()
        self.batches = BatchDesk(settings, self._cache, self._ledger)  # batch generation (:mod:`.batch`)
        self._ready: set[str] = set()  # model entries whose provider is loaded
        self._loads = SingleFlight()

    # -- public API ------------------------------------------------------------------------------------
    async def complete(self, role: str, messages: Messages, *, sample: int = 0, **overrides: Any) -> str:
        """The text answer of ``role``'s model to ``messages``.

        Args:
            role: an entry of ``llm.roles`` (evolver, analyzer, ...).
            messages: OpenAI-style chat messages.
            sample: which sample of this prompt (part of the cache key; sent to the provider as ``seed``).
            overrides: LiteLLM parameters that replace the role's (temperature, max_tokens, stop, ...).

        Raises:
            LLMError: every model failed (LLMTransportError: each on transport faults); naming role, models, no key.
            BudgetExceeded: the budget was spent before this call.
        """
        answer = await self._generate(role, messages, sample, overrides, None)
        return answer.text

    async def structured(
        self, role: str, messages: Messages, schema: type[T], *, sample: int = 0, **overrides: Any
    ) -> T:
        """``role``'s answer parsed into ``schema`` (a pydantic model); one repair request on invalid output.

        Raises:
            StructuredOutputError: the answer was invalid twice.
            LLMError, BudgetExceeded: as for :meth:`complete`.
        """
        answer = await self._generate(role, messages, sample, overrides, schema)
        try:
            return parse_output(answer.text, schema)
        except ValidationError as error:
            self._ledger.role(role).repairs += 1
            await self._event("llm_repair", role=role, model=answer.model, schema=schema.__name__)
            retry = repair_messages(messages, answer.text, error)
            answer = await self._generate(role, retry, sample, overrides, schema)
        try:
            return parse_output(answer.text, schema)
        except ValidationError as error:
            self._ledger.role(role).failures += 1
            await self._event("llm_failure", role=role, model=answer.model, error=f"invalid {schema.__name__}")
            raise StructuredOutputError(
                f"LLM role '{role}' (model {answer.model}) did not answer in the {schema.__name__} schema "
                f"after one repair request: {validation_problems(error)[:500]}"
            ) from None

    def chat_model(self, role: str) -> GatewayChatModel:
        """``role`` as a LangChain chat model (:mod:`evoforge.llm.langchain`) on this gateway's one path (cache,
        limits, retries, fallbacks, accounting), reported to the callbacks of the run it is called in."""
        from evoforge.llm.langchain import GatewayChatModel

        return GatewayChatModel.for_role(self._answer, role, self.settings.models[self._role(role).model].model)

    def usage(self) -> dict[str, Any]:
        """``{"roles": {role: figures}, "total": figures}``; figures are calls, cache_hits, tokens_in,
        tokens_out, cost_usd, latency_s, retries, errors, fallbacks, repairs, failures."""
        return self._ledger.as_dict()

    def add_usage(self, usage: dict[str, Any]) -> None:
        """Count another gateway's :meth:`usage` (a worker process's) as this one's: in the budget and the manifest."""
        self._ledger.add(usage)

    def close(self) -> None:
        """Close the cache file and write the usage into the run's manifest (and an ``llm_usage`` event)."""
        if self._cache is not None:
            self._cache.close()
        self._limits.close()
        if self.run is not None:
            usage = self.usage()
            self.run.update_manifest(llm_usage=usage)
            self.run.event("llm_usage", **usage["total"])

    async def aclose(self) -> None:
        """:meth:`close` off the event loop (for async callers; it writes files)."""
        await asyncio.to_thread(self.close)

    def __enter__(self) -> LLMGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request: cache, then the role's models in order ------------------------------------------
    def _role(self, role: str) -> RoleSettings:
        try:
            return self.settings.roles[role]
        except KeyError:
            known = ", ".join(sorted(self.settings.roles))
            raise ConfigError(f"unknown LLM role '{role}'; llm.roles has: {known}") from None

    async def _generate(
        self, role: str, messages: Messages, sample: int, overrides: dict[str, Any], schema: type[BaseModel] | None
    ) -> CachedResponse:
        """One request; inside a LangChain run with callbacks it goes through :meth:`chat_model`, which reports it."""
        if _run_has_callbacks():
            global _chat_module
            if _chat_module is None:  # concurrent first calls each wait in import_module for the one import
                _chat_module = await asyncio.to_thread(importlib.import_module, _CHAT_MODULE)
            return await _chat_module.reported_answer(self.chat_model(role), messages, sample, overrides, schema)
        return (await self._answer(role, messages, sample, overrides, schema))[0]

    async def _answer(
        self, role: str, messages: Messages, sample: int, overrides: dict[str, Any], schema: type[BaseModel] | None
    ) -> tuple[CachedResponse, bool]:
        """The answer to one request (reported to no callback) and whether the response cache gave it."""
        settings = self._role(role)
        usage = self._ledger.role(role)
        sampling = {"temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_tokens}
        problems: list[ModelFailed] = []  # each model's, naming it
        for name in [settings.model, *settings.fallbacks]:
            entry = self.settings.models[name]
            if problems:
                usage.fallbacks += 1
                await self._event("llm_fallback", role=role, model=name, after=str(problems[-1]))
            if name not in self._ready:
                await self._load_provider(name, entry)
            sent, response_format = schema_request(entry, messages, schema) if schema else (messages, None)
            request = {**sampling, **overrides}
            if response_format is not None:
                request["response_format"] = response_format
            key = None if self._cache is None else request_key(entry, sent, request, sample)
            try:
                return await self._cached_call(key, role, name, entry, sent, request, sample)
            except ModelFailed as exc:
                problems.append(ModelFailed(f"model '{name}' ({entry.model}): {exc}", exc.transient))
        usage.failures += 1
        transient, message = all(p.transient for p in problems), "; then ".join(map(str, problems))
        await self._event("llm_failure", role=role, error=message, transport=transient)
        raise (LLMTransportError if transient else LLMError)(f"LLM call for role '{role}' failed: {message}")

    async def _load_provider(self, name: str, entry: ModelEntry) -> None:
        """Import LiteLLM (seconds) and register ``entry``'s plug-in provider off the event loop, once per model
        entry: the first calls of a fan-out wait for the one load instead of each starting their own."""
        async with self._loads.hold(name):
            if name not in self._ready:
                await asyncio.to_thread(ensure_provider_for, entry.model)
                self._ready.add(name)

    async def _cached_call(
        self,
        key: str | None,
        role: str,
        name: str,
        entry: ModelEntry,
        messages: Messages,
        request: dict[str, Any],
        sample: int,
    ) -> tuple[CachedResponse, bool]:
        """The cached answer for ``key`` (and True), else a provider call's, cached (one call per key at a time)."""
        if self._cache is None or key is None:
            return await self._call_model(role, name, entry, messages, request, sample), False
        async with self._flights.hold(key):
            cached, batching = await asyncio.to_thread(self._cache.get, key), collector()
            if cached is not None:  # a bulk step's pass counts its hits once it is the last (:mod:`.batch`)
                self._ledger.hit(role) if batching is None else batching.hit(role, key)
                return cached, True
            if entry.batch and batching is not None:  # a bulk step's pass: set aside for a batch
                batching.defer(key, role, name, call_kwargs(entry, messages, request, sample))
            answer = await self._call_model(role, name, entry, messages, request, sample)
            await asyncio.to_thread(self._cache.put, key, answer)
            return answer, False

    # -- one model: limits, budget, retries ------------------------------------------------------------
    async def _call_model(
        self, role: str, name: str, entry: ModelEntry, messages: Messages, request: dict[str, Any], sample: int
    ) -> CachedResponse:
        litellm = litellm_module()
        api_key = api_key_of(entry)
        kwargs: dict[str, Any] = {
            **call_kwargs(entry, messages, request, sample),
            "timeout": entry.timeout,
            "num_retries": 0,  # the gateway retries, so that it can count and choose what to retry
            "drop_params": True,  # e.g. a seed for a provider without one
        }
        if entry.api_base is not None:
            kwargs["api_base"] = entry.api_base
        if api_key is not None:
            kwargs["api_key"] = api_key
        usage = self._ledger.role(role)
        retries = self.settings.num_retries
        wait = 0.0
        for attempt in range(retries + 1):
            if attempt:
                usage.retries += 1
                await asyncio.sleep(wait)
            await self._check_budget(role)
            async with self._limits.slot(name, entry.max_parallel_requests, entry.rpm):
                start = time.monotonic()
                try:
                    async with asyncio.timeout(entry.timeout):  # no extra task per call, unlike wait_for
                        response = await litellm.acompletion(**kwargs)
                except Exception as exc:
                    usage.errors += 1
                    problem = describe(exc, api_key)
                    if is_transient(exc) and attempt < retries:
                        backoff = self.settings.retry_backoff * 2**attempt
                        wait = max(backoff, retry_after(exc) or 0.0)
                        await self._event("llm_retry", role=role, model=name, attempt=attempt + 1, error=problem)
                        continue
                    raise ModelFailed(problem, transient=is_transient(exc)) from None
                latency = time.monotonic() - start
            return self._ledger.record(role, entry, response, latency)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _check_budget(self, role: str) -> None:
        try:
            self._ledger.check_budget()
        except BudgetExceeded as exc:
            await self._event("llm_budget_exceeded", role=role, error=str(exc))
            raise

    # -- events ---------------------------------------------------------------------------------------
    async def _event(self, kind: str, **data: Any) -> None:
        """Append an event to the run's log, off the event loop (file I/O)."""
        if self.run is not None:
            await asyncio.to_thread(self.run.event, kind, **data)
