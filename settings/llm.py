"""The ``llm`` section: the model entries LiteLLM addresses, the agent roles that use them, retries and budget.

Secrets never live here: a model entry names the *environment variable* that holds its key (``api_key_env``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from evoforge.settings.sections import Section, refuse_removed


class ModelEntry(Section):
    """One LLM endpoint, as LiteLLM addresses it."""

    model: str = Field(description="LiteLLM model string, e.g. 'deepseek/deepseek-chat' or 'sim/skills'.")
    api_base: str | None = Field(None, description="Base URL for OpenAI-compatible servers (vLLM, sim).")
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key (never the key itself)."
    )
    timeout: float = Field(120.0, gt=0, description="Seconds before a call times out.")
    rpm: int | None = Field(None, gt=0, description="Requests per minute allowed to this model.")
    max_parallel_requests: int = Field(16, gt=0, description="Concurrent requests allowed to this model.")
    input_cost_per_token: float | None = Field(None, ge=0, description="USD per input token (unmapped models).")
    output_cost_per_token: float | None = Field(None, ge=0, description="USD per output token (unmapped models).")
    json_schema: bool | None = Field(
        None,
        description="Whether the provider accepts native json_schema output; None = decide by provider.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Extra provider parameters passed to LiteLLM (e.g. sim settings)."
    )
    batch: bool = Field(
        False,
        description="Send the bulk fan-outs (the evolve dataset's evolutions and answers) to this model through "
        "the provider's file + batch API (OpenAI-style; answers within its completion window, at the batch price).",
    )
    batch_price: float = Field(0.5, ge=0, description="The batch price as a share of the per-token price.")
    batch_poll_s: float = Field(30.0, gt=0, description="Seconds between two looks at a pending batch.")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError("api_key must not be written in a config file; name its variable in api_key_env")
        return data


class RoleSettings(Section):
    """Which model plays an agent role, with the role's sampling parameters."""

    model: str = Field("sim", description="Name of an entry in llm.models.")
    temperature: float = Field(0.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(1024, gt=0)
    fallbacks: list[str] = Field(default_factory=list, description="llm.models entries tried in order on failure.")


_REMOVED_ROLES = {"answerer": "no agent used the 'answerer' role (answers come from the generator and validator roles)"}


def _default_models() -> dict[str, ModelEntry]:
    return {"sim": ModelEntry(model="sim/skills")}


def _default_roles() -> dict[str, RoleSettings]:
    creative = {"temperature": 0.6, "top_p": 0.95}
    return {
        "evolver": RoleSettings(),
        "analyzer": RoleSettings(**creative),
        "optimizer": RoleSettings(**creative),
        "validator": RoleSettings(),
        "generator": RoleSettings(),
        "judge": RoleSettings(),
    }


class LLMSettings(Section):
    """The LLM gateway: models, roles, retries, cache and budget."""

    models: dict[str, ModelEntry] = Field(default_factory=_default_models)
    roles: dict[str, RoleSettings] = Field(default_factory=_default_roles)
    num_retries: int = Field(3, ge=0, description="Retries on timeouts, 429 and 5xx (never on other 4xx).")
    retry_backoff: float = Field(1.0, ge=0, description="Initial backoff in seconds, doubled per retry.")
    cache: bool = Field(
        True, description="Serve repeated calls from the SQLite response cache shared by all runs (false = off)."
    )
    cache_dir: Path | None = Field(
        None, description="Folder of the shared response cache; None = $EVOFORGE_LLM_CACHE_DIR or the user cache dir."
    )
    max_cost_usd: float | None = Field(None, gt=0, description="Stop the run cleanly past this cost.")
    max_tokens_total: int | None = Field(None, gt=0, description="Stop the run cleanly past this many tokens.")

    @field_validator("roles", mode="before")
    @classmethod
    def _no_removed_roles(cls, roles: Any) -> Any:
        return refuse_removed(roles, _REMOVED_ROLES)

    @model_validator(mode="after")
    def _roles_name_models(self) -> LLMSettings:
        for role, settings in self.roles.items():
            for name in [settings.model, *settings.fallbacks]:
                if name not in self.models:
                    known = ", ".join(sorted(self.models))
                    raise ValueError(f"role '{role}' names model '{name}', which is not in llm.models ({known})")
        batched = sorted(name for name, entry in self.models.items() if entry.batch)
        if batched and not self.cache:
            raise ValueError(
                f"llm.models {', '.join(batched)} set batch: true, which needs llm.cache (a batch's answers reach "
                "the rows through the response cache); set llm.cache: true or batch: false"
            )
        return self
