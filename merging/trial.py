"""The fast trial path: one resident model, a merge applied in place, evaluated, and the base restored exactly.

:class:`TrialRunner` scores a :class:`MergeSpec` that way, through one of two mixers that share one interface
(``with mixer.trial(spec): evaluate()``):

- :class:`ScaleMixer` (linear merges of LoRA adapters): every adapter is loaded on the resident PEFT model;
  a trial activates those with a non-zero weight and sets each LoRA layer's scale to ``wᵢ·scaleᵢ`` (per layer
  group), which is exactly Σ wᵢ·scaleᵢ·Bᵢ·Aᵢ with no merge at all. Restoring puts the scales back.
- :class:`DeltaMixer` (every method, LoRA or full-checkpoint deltas): the dense ΔW of each delta is stacked
  per base parameter once; a trial combines them with the method and adds the result to the base weights in
  place. A copy of every touched base weight is kept and copied back, so the base is restored bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from evoforge.errors import ConfigError
from evoforge.merging.lora import Delta, base_parameter, layer_groups
from evoforge.merging.methods import MergeMethod, get_method, normalized

if TYPE_CHECKING:
    import torch


@dataclass
class MergeSpec:
    """One merge: a weight per layer group for each delta taking part, the method and its parameters.

    Deltas absent from ``weights`` take no part (not even in TIES's sign election).
    """

    weights: dict[str, list[float]]
    method: str = "linear"
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {"weights": self.weights, "method": self.method, "params": self.params}


def _lora_layers(model: Any) -> list[tuple[str, Any]]:
    """(base parameter name, module) of every LoRA layer in a PEFT model."""
    from peft.tuners.lora import LoraLayer

    root = model.get_base_model() if hasattr(model, "get_base_model") else model
    return [(name + ".weight", m) for name, m in root.named_modules() if isinstance(m, LoraLayer)]


class Mixer:
    """Applies a :class:`MergeSpec` to a resident model and restores it."""

    def apply(self, spec: MergeSpec) -> None:
        """Put the merge ``spec`` into the model."""
        raise NotImplementedError

    def restore(self) -> None:
        """Bring the model back to the base exactly."""
        raise NotImplementedError

    @contextmanager
    def trial(self, spec: MergeSpec) -> Iterator[None]:
        """Apply ``spec`` for the duration of the block, then restore."""
        self.apply(spec)
        try:
            yield
        finally:
            self.restore()


class ScaleMixer(Mixer):
    """Linear merge of LoRA adapters by their scales on one resident PEFT model (the non-zero ones active)."""

    def __init__(self, model: Any, names: list[str], groups: int = 1) -> None:
        self.model = model
        self.names = list(names)
        self.groups = groups
        self.layers = _lora_layers(model)
        if not self.layers:
            raise ConfigError("the resident model has no LoRA layers; load the adapters first")
        missing = [n for n in names if not any(n in m.scaling for _, m in self.layers)]
        if missing:
            raise ConfigError(f"adapter(s) not loaded on the resident model: {', '.join(missing)}")
        self.group_of = layer_groups([p for p, _ in self.layers], groups)
        self.original = [dict(m.scaling) for _, m in self.layers]
        self.original_active = list(model.base_model.active_adapters)

    def apply(self, spec: MergeSpec) -> None:
        """Set every adapter's scale to its weight (for its layer group) times its own alpha/r."""
        import torch

        method = get_method(spec.method, **spec.params)
        if not method.linear:
            raise ConfigError(f"merge method '{spec.method}' cannot be applied by adapter scales; use DeltaMixer")
        per_group = []
        for g in range(self.groups):
            w = torch.tensor([spec.weights.get(n, [0.0] * self.groups)[g] for n in self.names], dtype=torch.float64)
            per_group.append((normalized(w) if method.params.get("normalize") else w).tolist())
        for param, module in self.layers:
            weights = per_group[self.group_of[param]]
            for name, w in zip(self.names, weights, strict=True):
                module.set_scale(name, w)  # w·alpha/r (alpha/√r with rsLoRA); ignores adapters absent here
        active = [n for i, n in enumerate(self.names) if any(g[i] != 0 for g in per_group)]
        self.model.base_model.set_adapter(active, inference_mode=True)  # zero-weight adapters cost no compute

    def restore(self) -> None:
        """Put the original scales and active adapters back."""
        for (_, module), original in zip(self.layers, self.original, strict=True):
            module.scaling.update(original)
        self.model.base_model.set_adapter(self.original_active, inference_mode=True)


class DeltaMixer(Mixer):
    """Any merge method over dense ΔW, added in place to the base weights; exact restore from a saved copy.

    LoRA layers of the resident model (the eval harness's adapters) are left alone: silence them with a
    :class:`ScaleMixer` trial at zero weights (as :class:`TrialRunner` does).
    """

    def __init__(self, model: Any, deltas: list[Delta], groups: int = 1, seed: int = 0) -> None:
        import torch

        self.model = model
        self.deltas = deltas
        self.groups = groups
        self.seed = seed
        self.names = [d.name for d in deltas]
        params = sorted({p for d in deltas for p in d.params})
        self.group_of = layer_groups(params, groups)
        self.targets = {p: base_parameter(model, p) for p in params}
        self.saved = {p: t.detach().clone() for p, t in self.targets.items()}
        self.stacks: dict[str, torch.Tensor] = {}
        for p, target in self.targets.items():
            rows = [d.dense().get(p) for d in deltas]
            stack = torch.stack([torch.zeros(target.shape) if r is None else r for r in rows])
            if stack.shape[1:] != target.shape:
                raise ConfigError(f"delta shape {tuple(stack.shape[1:])} does not fit {p} {tuple(target.shape)}")
            self.stacks[p] = stack.to(target.device, torch.float32)
        self._prepared_key: tuple[Any, ...] | None = None
        self._prepared: dict[str, torch.Tensor] = {}
        self._selected_key: tuple[Any, ...] | None = None
        self._selected: dict[str, Any] = {}

    @staticmethod
    def _key(method: MergeMethod) -> tuple[Any, ...]:
        return (method.name, tuple(sorted(method.params.items())))

    def prepared(self, method: MergeMethod) -> dict[str, torch.Tensor]:
        """The method's per-delta work on every stack (cached for the last method and parameters)."""
        import torch

        key = self._key(method)
        if key != self._prepared_key:
            self._prepared = {}
            for i, (p, stack) in enumerate(self.stacks.items()):
                gen = torch.Generator(stack.device).manual_seed(self.seed * 1_000_003 + i)
                self._prepared[p] = method.prepare(stack, gen)
            self._prepared_key = key
        return self._prepared

    def merged_delta(self, spec: MergeSpec) -> dict[str, torch.Tensor]:
        """The merged ΔW per base parameter for ``spec``."""
        import torch

        method = get_method(spec.method, **spec.params)
        unknown = sorted(set(spec.weights) - set(self.names))
        if unknown:
            raise ConfigError(f"unknown delta(s) in merge: {', '.join(unknown)}")
        take = [i for i, n in enumerate(self.names) if n in spec.weights]
        weights = torch.tensor([[spec.weights[self.names[i]][g] for i in take] for g in range(self.groups)])
        key = (*self._key(method), tuple(take))
        if key != self._selected_key:
            prepared = self.prepared(method)
            self._selected = {
                p: method.select(t if len(take) == len(self.names) else t[take]) for p, t in prepared.items()
            }
            self._selected_key = key
        return {p: method.combine(sel, weights[self.group_of[p]]) for p, sel in self._selected.items()}

    def apply(self, spec: MergeSpec) -> None:
        """Add the merged ΔW to the base weights in place."""
        import torch

        with torch.no_grad():
            for p, delta in self.merged_delta(spec).items():
                self.targets[p].add_(delta.to(self.targets[p].dtype))

    def restore(self) -> None:
        """Copy the saved base weights back (bit-exact)."""
        import torch

        with torch.no_grad():
            for p, target in self.targets.items():
                target.copy_(self.saved[p])

    def max_abs_diff(self) -> float:
        """Largest |W − W₀| over the touched base weights (0.0 after :meth:`restore`)."""
        return max((float((t - self.saved[p]).abs().max()) for p, t in self.targets.items()), default=0.0)


@dataclass
class TrialResult:
    """A scored merge with the time spent merging (apply + restore) and evaluating."""

    score: float
    merge_s: float
    eval_s: float


@dataclass
class TrialRunner:
    """Scores merges on one resident model; ``evaluate`` scores the model in its current state.

    Every merge can go through an in-place ΔW add (the model's adapters silenced meanwhile). Linear merges of
    LoRA deltas can instead go through adapter scales when the model carries the adapters (named as the deltas):
    no dense ΔW in memory, but every active adapter adds its LoRA compute to each forward pass. ``linear_path``
    picks: ``scales``, ``delta``, or ``auto`` = ``delta`` while the dense ΔW stacks and the saved copy of the
    touched weights together take no more than the model's own weights (so a trial holds at most the base plus one
    copy's worth), or less than ``DENSE_FLOOR`` (the tiny students: a few MB, where the extra LoRA compute of the
    scales path dominates), else ``scales`` (real sizes: a 30M model with six deltas would hold 3.5 copies).
    """

    model: Any
    deltas: list[Delta]
    evaluate: Callable[[], float]
    groups: int = 1
    seed: int = 0
    linear_path: str = "auto"
    _scale: ScaleMixer | None = field(default=None, init=False)
    _delta: DeltaMixer | None = field(default=None, init=False)

    DENSE_FLOOR: ClassVar[int] = 64 << 20

    def __post_init__(self) -> None:
        if self.linear_path not in ("auto", "scales", "delta"):
            raise ConfigError(f"linear_path must be auto, scales or delta, not {self.linear_path!r}")
        loaded = set(getattr(self.model, "peft_config", {}))
        if loaded:
            self._scale = ScaleMixer(self.model, sorted(loaded), self.groups)
        if self.linear_path == "auto":
            weights = sum(4 * t.numel() for t in self.model.parameters())
            held = self.dense_bytes() + self.touched_bytes()
            self.linear_path = "delta" if held <= max(weights, self.DENSE_FLOOR) else "scales"

    def _sizes(self, delta: Delta) -> dict[str, int]:
        if delta.kind == "lora":
            return {p: f.a.shape[1] * f.b.shape[0] for p, f in delta.factors.items()}
        return {p: t.numel() for p, t in delta.tensors.items()}

    def dense_bytes(self) -> int:
        """Memory the dense ΔW stacks of the delta path take (float32)."""
        return 4 * sum(sum(self._sizes(d).values()) for d in self.deltas)

    def touched_bytes(self) -> int:
        """Memory the delta path's saved copy of the base weights the deltas touch takes (float32)."""
        touched = {p: n for d in self.deltas for p, n in self._sizes(d).items()}
        return 4 * sum(touched.values())

    def _uses_scales(self, spec: MergeSpec) -> bool:
        if self.linear_path != "scales" or self._scale is None:
            return False
        lora = all(d.kind == "lora" for d in self.deltas if d.name in spec.weights)
        return lora and set(spec.weights) <= set(self._scale.names) and get_method(spec.method, **spec.params).linear

    def delta_mixer(self) -> DeltaMixer:
        """The ΔW mixer (built on first use: it stacks the dense ΔW of every delta)."""
        if self._delta is None:
            self._delta = DeltaMixer(self.model, self.deltas, self.groups, self.seed)
        return self._delta

    def score(self, spec: MergeSpec) -> TrialResult:
        """Apply ``spec``, evaluate, restore the base."""
        with ExitStack() as stack:
            start = time.perf_counter()
            if self._uses_scales(spec):
                stack.enter_context(self._scale.trial(spec))  # type: ignore[union-attr]
            else:
                if self._scale is not None:
                    stack.enter_context(self._scale.trial(MergeSpec({})))
                stack.enter_context(self.delta_mixer().trial(spec))
            applied = time.perf_counter()
            score = float(self.evaluate())
            evaluated = time.perf_counter()
        restored = time.perf_counter()
        return TrialResult(score, (applied - start) + (restored - evaluated), evaluated - applied)
