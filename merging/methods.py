"""Merge methods over deltas: small objects that declare their parameters and register themselves.

Each method combines the stacked ΔW of one parameter (shape ``[n_deltas, *shape]``) with a weight per delta.
The work is split in three so the search loop stays cheap; the first two do not depend on the weights and are
cached by the trial path: :meth:`MergeMethod.prepare` works on each delta alone (magnitude trimming, DARE's
random drop and rescale, seeded so that a weight vector always means the same merge), :meth:`MergeMethod.select`
across the deltas taking part (TIES's sign election); :meth:`MergeMethod.combine` applies the weights.
The results agree exactly with ``peft.utils.merge_utils`` (tested).

- ``linear``: task arithmetic, W₀ + Σ wᵢ·ΔWᵢ. With full checkpoints this *is* AutoLLM's code,
  (1 − Σwᵢ)·W₀ + Σ wᵢ·Wᵢ. ``normalize=True`` divides by Σwᵢ (mergekit's linear: a weighted average of models).
- ``ties``: trim each ΔW to ``density`` by magnitude, elect the sign per entry, disjoint mean.
- ``dare_linear`` / ``dare_ties``: drop entries at random with keep probability ``density``, rescale by
  1/density, then linear / TIES combination.
- ``magnitude_prune``: trim by magnitude, then linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from evoforge.errors import ConfigError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Param:
    """A method parameter: a float range or a set of choices, with its default."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    help: str = ""


DENSITY = Param("density", 0.5, low=0.05, high=1.0, help="Fraction of each ΔW's entries kept.")
SIGN = Param("majority_sign_method", "total", choices=("total", "frequency"), help="How TIES elects the sign.")

METHODS: dict[str, type[MergeMethod]] = {}


class MergeMethod:
    """Base class; subclasses set ``name`` and ``parameters`` and are registered on definition."""

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    #: True when the result is exactly Σ wᵢ·ΔWᵢ (LoRA adapters can then be mixed by their scales, no ΔW needed).
    linear: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            METHODS[cls.name] = cls

    def __init__(self, **params: Any) -> None:
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ConfigError(f"merge method '{self.name}' has no parameter {unknown[0]} (has: {', '.join(known)})")
        self.params = {name: params.get(name, p.default) for name, p in known.items()}

    def prepare(self, stack: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Weight-independent work on each delta of the stacked ΔW (default: none)."""
        return stack

    def select(self, prepared: torch.Tensor) -> Any:
        """Weight-independent work across the deltas taking part (default: none)."""
        return prepared

    def combine(self, selected: Any, weights: torch.Tensor) -> torch.Tensor:
        """The merged ΔW from the selected deltas and one weight per delta: Σ wᵢ·ΔWᵢ by default."""
        import torch

        return torch.tensordot(weights.to(selected), selected, dims=1)

    def merge(
        self, tensors: list[torch.Tensor], weights: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """The whole method on a list of ΔW of one parameter (the peft.utils.merge_utils signature)."""
        import torch

        return self.combine(self.select(self.prepare(torch.stack(tensors), generator)), weights)


def _trim(stack: torch.Tensor, density: float) -> torch.Tensor:
    """Keep the top ``density`` fraction of each delta's entries by magnitude (PEFT's topk, same ties)."""
    import torch

    if density >= 1:
        return stack
    flat = stack.reshape(stack.shape[0], -1)
    k = int(density * flat.shape[1])
    mask = torch.zeros_like(flat)
    mask.scatter_(1, torch.topk(flat.abs(), k=k, dim=1).indices, 1.0)
    return (flat * mask).reshape(stack.shape)


def _drop(stack: torch.Tensor, density: float, generator: torch.Generator | None) -> torch.Tensor:
    """DARE: keep each entry with probability ``density`` and rescale by 1/density (one mask per delta, in order)."""
    import torch

    if density >= 1:
        return stack
    masks = [torch.bernoulli(torch.full_like(t, density), generator=generator) for t in stack]
    return stack * torch.stack(masks) / density


def _elect(prepared: torch.Tensor, sign_method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """TIES's sign election on the unweighted deltas: (the deltas zeroed where they disagree, agreeing count ≥ 1)."""
    import torch

    sign = prepared.sign()
    votes = prepared.sum(dim=0) if sign_method == "total" else sign.sum(dim=0)
    agree = sign == torch.where(votes >= 0, 1, -1)
    return prepared * agree, torch.clamp(agree.sum(dim=0), min=1.0)


class Linear(MergeMethod):
    """Task arithmetic: Σ wᵢ·ΔWᵢ (``normalize``: divided by Σwᵢ)."""

    name = "linear"
    parameters = (Param("normalize", False, choices=(False, True), help="Divide the weights by their sum."),)
    linear = True

    def combine(self, selected: Any, weights: torch.Tensor) -> torch.Tensor:
        """Σ wᵢ·ΔWᵢ, optionally with the weights normalised to sum to one."""
        return super().combine(selected, normalized(weights) if self.params["normalize"] else weights)


def normalized(weights: torch.Tensor) -> torch.Tensor:
    """Weights divided by their sum (unchanged when the sum is zero)."""
    total = float(weights.sum())
    return weights / total if total != 0 else weights


class MagnitudePrune(MergeMethod):
    """Trim each ΔW by magnitude to ``density``, then task arithmetic."""

    name = "magnitude_prune"
    parameters = (DENSITY,)

    def prepare(self, stack: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Magnitude trimming."""
        return _trim(stack, self.params["density"])


class Ties(MergeMethod):
    """TIES-merging: trim by magnitude, elect sign, disjoint mean."""

    name = "ties"
    parameters = (DENSITY, SIGN)

    def prepare(self, stack: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Magnitude trimming."""
        return _trim(stack, self.params["density"])

    def select(self, prepared: torch.Tensor) -> Any:
        """Sign election."""
        return _elect(prepared, self.params["majority_sign_method"])

    def combine(self, selected: Any, weights: torch.Tensor) -> torch.Tensor:
        """Disjoint mean of the agreeing weighted entries."""
        import torch

        agreeing, count = selected
        return torch.tensordot(weights.to(agreeing), agreeing, dims=1) / count


class DareLinear(MergeMethod):
    """DARE: random drop at ``density`` with rescaling, then task arithmetic."""

    name = "dare_linear"
    parameters = (DENSITY,)

    def prepare(self, stack: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random drop and rescale."""
        return _drop(stack, self.params["density"], generator)


class DareTies(Ties):
    """DARE drop and rescale, then TIES sign election and disjoint mean."""

    name = "dare_ties"

    def prepare(self, stack: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random drop and rescale."""
        return _drop(stack, self.params["density"], generator)


def get_method(name: str, **params: Any) -> MergeMethod:
    """An instance of the registered method ``name`` with ``params``.

    Raises:
        ConfigError: no such method, or a parameter it does not declare.
    """
    if name not in METHODS:
        raise ConfigError(f"unknown merge method '{name}' (known: {', '.join(sorted(METHODS))})")
    return METHODS[name](**params)
