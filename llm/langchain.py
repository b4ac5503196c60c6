"""The gateway as a LangChain chat model, so that LLM calls show where LangGraph users look.

A gateway call made inside a LangChain run that has callback handlers — a LangGraph node under ``astream_events``
or ``stream_mode="messages"``, LangGraph Studio, LangSmith tracing (``LANGSMITH_TRACING``) — is made through
:class:`GatewayChatModel`, so the run reports it as a chat-model run nested under the node: the messages, the role,
the model, token usage, cost and whether the response cache answered (LangSmith adds the latency). The work is still
the gateway's one path (cache, limits, retries, fallbacks, accounting); the model only carries it to the callbacks.
API keys never reach a callback: the gateway reads them from the environment inside the provider call.

``LLMGateway.chat_model(role)`` gives the same model to a user's own chains and agents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from langchain_core.caches import BaseCache
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage, convert_to_openai_messages
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import BaseModel, ConfigDict, Field

from evoforge.llm.cache import CachedResponse

Messages = list[dict[str, str]]
# The gateway's untraced request: (role, messages, sample, overrides, schema) -> (answer, served from the cache).
Answerer = Callable[
    [str, Messages, int, dict[str, Any], type[BaseModel] | None], Awaitable[tuple[CachedResponse, bool]]
]


class GatewayChatModel(BaseChatModel):
    """One LLM gateway role as a LangChain chat model: ``await gateway.chat_model("evolver").ainvoke(messages)``.

    Calls take the gateway's path (cache, limits, retries, fallbacks, accounting). Call keywords: ``sample`` (the
    sample index, part of the cache key), ``schema`` (a pydantic model the answer must follow; the reply is its
    JSON) and LiteLLM overrides (``temperature``, ``max_tokens``, ``stop``, ...). The reply's ``usage_metadata``
    holds the tokens; its ``response_metadata`` the model that answered (``model_name``, a fallback's when one
    answered), ``cached`` and ``cost_usd`` (0 for a cache hit). The run's metadata carries ``llm_role``.
    Async only: the gateway's limits live in its event loop.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    answer: Answerer = Field(exclude=True, repr=False)
    role: str
    model: str  # the LiteLLM model string of the role's first model
    cache: BaseCache | bool | None = Field(default=False, exclude=True)  # the gateway caches, not LangChain too

    @classmethod
    def for_role(cls, answer: Answerer, role: str, model: str) -> GatewayChatModel:
        """The chat model of ``role`` (first model ``model``), named after the role in traces."""
        return cls(answer=answer, role=role, model=model, name=role, metadata={"llm_role": role})

    @property
    def _llm_type(self) -> str:
        return "evoforge-gateway"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"role": self.role, "model": self.model}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        """LangSmith's model fields: the LiteLLM provider prefix and the model name after it."""
        params = super()._get_ls_params(stop=stop, **kwargs)
        provider, _, name = self.model.partition("/")
        params["ls_provider"], params["ls_model_name"] = (provider, name) if name else ("litellm", provider)
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        raise NotImplementedError("the LLM gateway is async: use ainvoke / abatch / astream")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        sample: int = 0,
        schema: type[BaseModel] | None = None,
        **overrides: Any,
    ) -> ChatResult:
        if stop is not None:
            overrides["stop"] = stop
        sent = cast("Messages", convert_to_openai_messages(messages))
        answer, cached = await self.answer(self.role, sent, sample, overrides, schema)
        usage = UsageMetadata(
            input_tokens=answer.tokens_in,
            output_tokens=answer.tokens_out,
            total_tokens=answer.tokens_in + answer.tokens_out,
        )
        if cached:
            usage["input_token_details"] = {"cache_read": answer.tokens_in}
        metadata = {"model_name": answer.model, "cached": cached, "cost_usd": 0.0 if cached else answer.cost_usd}
        message = AIMessage(content=answer.text, usage_metadata=usage, response_metadata=metadata)
        return ChatResult(generations=[ChatGeneration(message=message)])


async def reported_answer(
    model: GatewayChatModel, messages: Messages, sample: int, overrides: dict[str, Any], schema: type[BaseModel] | None
) -> CachedResponse:
    """``model``'s answer, asked through LangChain so that the callbacks of the current run report the call."""
    reply = await model.ainvoke(messages, sample=sample, schema=schema, **overrides)
    usage = cast("UsageMetadata", reply.usage_metadata)
    return CachedResponse(
        text=reply.text,
        model=reply.response_metadata["model_name"],
        tokens_in=usage["input_tokens"],
        tokens_out=usage["output_tokens"],
        cost_usd=reply.response_metadata["cost_usd"],
    )
