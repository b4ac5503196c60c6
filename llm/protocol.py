"""What the rest of evoforge may rely on of an LLM gateway: :class:`Gateway`.

:class:`~evoforge.llm.gateway.LLMGateway` is the one implementation; :class:`~evoforge.llm.on_loop.OnLoop` wraps one
for a worker thread, and tests pass fakes of it. Every signature that takes a gateway takes a ``Gateway``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

if TYPE_CHECKING:
    from evoforge.llm.batch import BatchDesk
    from evoforge.llm.langchain import GatewayChatModel
    from evoforge.settings import LLMSettings

T = TypeVar("T", bound=BaseModel)
Messages = list[dict[str, str]]


@runtime_checkable  # so that pydantic can build LangGraph Studio's context form, which leaves it out
class Gateway(Protocol):
    """Role-based LLM access: text and structured answers, a LangChain view, usage figures, batches, closing."""

    @property
    def settings(self) -> LLMSettings:
        """The ``llm`` configuration section it runs with."""
        ...

    @property
    def batches(self) -> BatchDesk:
        """Batch generation (:mod:`evoforge.llm.batch`)."""
        ...

    async def complete(self, role: str, messages: Messages, *, sample: int = 0, **overrides: Any) -> str:
        """The text answer of ``role``'s model to ``messages``."""
        ...

    async def structured(
        self, role: str, messages: Messages, schema: type[T], *, sample: int = 0, **overrides: Any
    ) -> T:
        """``role``'s answer parsed into ``schema``."""
        ...

    def chat_model(self, role: str) -> GatewayChatModel:
        """``role`` as a LangChain chat model."""
        ...

    def usage(self) -> dict[str, Any]:
        """``{"roles": {role: figures}, "total": figures}``."""
        ...

    def add_usage(self, usage: dict[str, Any]) -> None:
        """Count another gateway's usage as this one's."""
        ...

    def close(self) -> None:
        """Close the cache and write the usage into the run's manifest."""
        ...

    async def aclose(self) -> None:
        """:meth:`close` off the event loop."""
        ...
