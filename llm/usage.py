"""Token, cost and fault accounting per agent role, the budget check, and the end-of-run summary table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from evoforge.errors import BudgetExceeded
from evoforge.llm.backend import own_cost
from evoforge.llm.cache import CachedResponse

if TYPE_CHECKING:
    from rich.table import Table

    from evoforge.settings import ModelEntry


@dataclass
class RoleUsage:
    """What one role has used: provider calls, cache hits, tokens, cost, latency and faults."""

    calls: int = 0  # provider calls that returned an answer
    cache_hits: int = 0  # answers served from the response cache (free)
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0  # summed over provider calls
    retries: int = 0  # repeated attempts after a timeout, 429 or 5xx
    errors: int = 0  # failed provider attempts (retried or not)
    fallbacks: int = 0  # requests handed to a fallback model
    repairs: int = 0  # structured-output repair requests after invalid output
    failures: int = 0  # requests that failed for good (an LLMError was raised)
    batched: int = 0  # of the calls, those answered through a provider's batch API (at the batch price)

    def add(self, other: RoleUsage) -> None:
        """Add ``other``'s figures to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoleUsage:
        """Rebuild from :meth:`as_dict` output (unknown keys ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures (cost and latency rounded)."""
        data = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 8)
        data["latency_s"] = round(self.latency_s, 3)
        return data


class UsageLedger:
    """Per-role usage and the run's budget (cost in USD and/or total tokens)."""

    def __init__(self, max_cost_usd: float | None = None, max_tokens_total: int | None = None) -> None:
        self.max_cost_usd = max_cost_usd
        self.max_tokens_total = max_tokens_total
        self.roles: dict[str, RoleUsage] = {}

    def role(self, name: str) -> RoleUsage:
        """The (created on first use) usage record of role ``name``."""
        return self.roles.setdefault(name, RoleUsage())

    def record(self, role: str, entry: ModelEntry, response: Any, latency: float) -> CachedResponse:
        """Record a successful provider call of ``role`` (tokens, cost, latency); return its answer.

        The cost is the entry's per-token prices when it sets any, else LiteLLM's ``response_cost``.
        """
        tokens = getattr(response, "usage", None)
        tokens_in = int(getattr(tokens, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(tokens, "completion_tokens", 0) or 0)
        cost = own_cost(entry, tokens_in, tokens_out)
        if cost is None:
            cost = float((getattr(response, "_hidden_params", None) or {}).get("response_cost") or 0.0)
        usage = self.role(role)
        usage.calls += 1
        usage.tokens_in += tokens_in
        usage.tokens_out += tokens_out
        usage.cost_usd += cost
        usage.latency_s += latency
        text = response.choices[0].message.content or ""
        return CachedResponse(text=text, model=entry.model, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)

    def hit(self, role: str, n: int = 1) -> None:
        """Count ``n`` answers of ``role`` served from the response cache."""
        self.role(role).cache_hits += n

    def record_batched(self, role: str, answer: CachedResponse) -> None:
        """Record ``role``'s ``answer`` from a provider batch (its cost already at the batch price)."""
        usage = self.role(role)
        usage.calls += 1
        usage.batched += 1
        usage.tokens_in += answer.tokens_in
        usage.tokens_out += answer.tokens_out
        usage.cost_usd += answer.cost_usd

    def total(self) -> RoleUsage:
        """The sum over all roles."""
        out = RoleUsage()
        for usage in self.roles.values():
            out.add(usage)
        return out

    def check_budget(self) -> None:
        """Raise :class:`BudgetExceeded` if the spent cost or tokens reached the budget."""
        if self.max_cost_usd is None and self.max_tokens_total is None:
            return  # no budget: nothing to sum (this runs before every provider call)
        total = self.total()
        if self.max_cost_usd is not None and total.cost_usd >= self.max_cost_usd:
            raise BudgetExceeded(
                f"LLM budget exceeded: spent ${total.cost_usd:.4f} of llm.max_cost_usd=${self.max_cost_usd:.4f}; "
                "raise the budget and resume the run (cached answers are free)"
            )
        tokens = total.tokens_in + total.tokens_out
        if self.max_tokens_total is not None and tokens >= self.max_tokens_total:
            raise BudgetExceeded(
                f"LLM budget exceeded: used {tokens} tokens of llm.max_tokens_total={self.max_tokens_total}; "
                "raise the budget and resume the run (cached answers are free)"
            )

    def as_dict(self) -> dict[str, Any]:
        """``{"roles": {role: figures}, "total": figures}``."""
        return {
            "roles": {name: usage.as_dict() for name, usage in sorted(self.roles.items())},
            "total": self.total().as_dict(),
        }

    def load(self, data: dict[str, Any]) -> None:
        """Continue from a previous :meth:`as_dict` (e.g. a resumed run's manifest), so the budget spans sessions."""
        for name, figures in (data.get("roles") or {}).items():
            self.roles[name] = RoleUsage.from_dict(figures)

    def add(self, data: dict[str, Any]) -> None:
        """Add another ledger's :meth:`as_dict` (e.g. a worker process's) to this one, role by role."""
        for name, figures in (data.get("roles") or {}).items():
            self.role(name).add(RoleUsage.from_dict(figures))


USAGE_COLUMNS = ("role", "calls", "cached", "tok in", "tok out", "cost $", "s/call", "retries", "fails", "batched")


def _cells(name: str, figures: dict[str, Any]) -> list[str]:
    calls = int(figures.get("calls", 0))
    waited = calls - int(figures.get("batched", 0))  # a batch's answers have no latency of their own
    latency = float(figures.get("latency_s", 0.0)) / waited if waited else 0.0
    return [
        name,
        str(calls),
        str(figures.get("cache_hits", 0)),
        f"{figures.get('tokens_in', 0):,}",
        f"{figures.get('tokens_out', 0):,}",
        f"{float(figures.get('cost_usd', 0.0)):.4f}",
        f"{latency:.2f}",
        str(figures.get("retries", 0)),
        str(figures.get("failures", 0)),
        str(figures.get("batched", 0)),
    ]


def usage_rows(usage: dict[str, Any]) -> list[list[str]]:
    """The cells of :data:`USAGE_COLUMNS` for each role of :meth:`LLMGateway.usage`, then a ``total`` row."""
    rows = [_cells(name, figures) for name, figures in (usage.get("roles") or {}).items()]
    return rows + ([_cells("total", usage["total"])] if usage.get("total") else [])


def usage_table(usage: dict[str, Any], title: str = "LLM usage") -> Table:
    """Render :meth:`LLMGateway.usage` output as a rich table: one row per role and a total row."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column(USAGE_COLUMNS[0], no_wrap=True)
    for column in USAGE_COLUMNS[1:]:
        table.add_column(column, justify="right", no_wrap=True)
    rows = usage_rows(usage)
    total = rows.pop() if usage.get("total") else None
    for cells in rows:
        table.add_row(*cells)
    if total is not None:
        table.add_section()
        table.add_row(*total, style="bold")
    return table


def usage_markdown(usage: dict[str, Any]) -> str:
    """The same figures as :func:`usage_table`, as a markdown section for ``report.md``."""
    from evoforge.report import markdown_table

    return "## LLM usage and cost\n\n" + markdown_table(USAGE_COLUMNS, usage_rows(usage))
