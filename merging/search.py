"""The merge-weight search: an Optuna study over the weights (per layer group), optionally the method and density.

- :class:`SearchSpace` turns an Optuna trial into a :class:`MergeSpec` and back (parameter ``w:<delta>``, or
  ``w:<delta>:g<k>`` per layer group; ``method`` and ``density`` when they are searched).
- :func:`open_study` opens (or resumes) a study on SQLite, a journal file, or any RDB URL (PostgreSQL for
  several machines); :func:`enqueue_baselines` puts each single delta, the average and the human merge first;
  :func:`open_search` does both with a seeded sampler.
- :func:`optimize` runs until the study holds the requested number of completed trials, each scored by a
  :class:`Scorer` (the trial path's :class:`~evoforge.merging.trial.TrialRunner`), several at once with workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from evoforge.console import info
from evoforge.errors import ConfigError, import_extra
from evoforge.merging.methods import DENSITY, METHODS
from evoforge.merging.trial import MergeSpec, TrialResult

if TYPE_CHECKING:
    import optuna

    from evoforge.console import ProgressHandle
    from evoforge.settings import MergeSettings

STUDY_NAME = "merge"
SAMPLERS = ("tpe", "gp", "cmaes", "random")


@dataclass
class SearchSpace:
    """What the search varies: one weight per delta per layer group in [low, high]; maybe method and density."""

    deltas: list[str]
    groups: int = 1
    low: float = 0.0
    high: float = 1.0
    methods: tuple[str, ...] = ("linear",)
    density: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ConfigError(f"unknown merge method(s) {unknown}; known: {', '.join(sorted(METHODS))}")

    @classmethod
    def from_settings(cls, deltas: list[str], settings: MergeSettings) -> SearchSpace:
        """The space the ``merge`` settings describe over ``deltas``."""
        s = settings
        methods = (s.method,) if isinstance(s.method, str) else tuple(s.method)
        options = {"normalize": s.normalize}
        return cls(list(deltas), s.per_layer_groups, s.low, s.high, methods, s.density, options)

    def weight_name(self, delta: str, group: int) -> str:
        """The Optuna parameter name of ``delta``'s weight in layer ``group``."""
        return f"w:{delta}" if self.groups == 1 else f"w:{delta}:g{group}"

    def _needs_density(self, method: str) -> bool:
        return any(p.name == "density" for p in METHODS[method].parameters)

    def _fixed(self, method: str) -> dict[str, Any]:
        """The ``options`` that ``method`` declares (e.g. linear's ``normalize``)."""
        return {p.name: self.options[p.name] for p in METHODS[method].parameters if p.name in self.options}

    def suggest(self, trial: optuna.Trial) -> MergeSpec:
        """Sample a merge for ``trial``."""
        weights = {
            d: [trial.suggest_float(self.weight_name(d, g), self.low, self.high) for g in range(self.groups)]
            for d in self.deltas
        }
        method = self.methods[0] if len(self.methods) == 1 else str(trial.suggest_categorical("method", self.methods))
        params = self._fixed(method)
        if self._needs_density(method):
            params["density"] = self.density or trial.suggest_float("density", DENSITY.low or 0.05, DENSITY.high or 1)
        return MergeSpec(weights, method, params)

    def spec_of(self, params: dict[str, Any]) -> MergeSpec:
        """The merge of a finished trial's parameters."""
        weights = {d: [float(params[self.weight_name(d, g)]) for g in range(self.groups)] for d in self.deltas}
        method = str(params.get("method", self.methods[0]))
        extra = self._fixed(method)
        if self._needs_density(method):
            extra["density"] = self.density or float(params.get("density", DENSITY.default))
        return MergeSpec(weights, method, extra)

    def params_of(self, weights: list[float]) -> dict[str, Any]:
        """Optuna parameters of a baseline: one weight per delta (every group alike, clipped to the bounds),
        the linear method when it is among those searched, and no trimming."""
        if len(weights) != len(self.deltas):
            raise ConfigError(f"a baseline merge has {len(weights)} weights for {len(self.deltas)} deltas")
        clip = [min(self.high, max(self.low, w)) for w in weights]
        params: dict[str, Any] = {
            self.weight_name(d, g): w for d, w in zip(self.deltas, clip, strict=True) for g in range(self.groups)
        }
        method = "linear" if "linear" in self.methods else self.methods[0]
        if len(self.methods) > 1:
            params["method"] = method
        if self._needs_density(method) and self.density is None:
            params["density"] = DENSITY.high  # no trimming: the baseline is the deltas themselves
        return params


def human_weights(weights: list[float] | dict[str, float] | None, deltas: list[str]) -> list[float] | None:
    """``merge.human_weights`` as one weight per delta of ``deltas``; None = no human merge.

    A mapping weighs the deltas it leaves out 0; a name that is no delta of this merge is skipped with a warning (a
    cycle's round trains only the chunks its data has), and a mapping that names none gives no human merge.

    Raises:
        ConfigError: a list of the wrong length.
    """
    if weights is None:
        return None
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(deltas))
        if unknown:
            outcome = "no human merge" if len(unknown) == len(weights) else "they are skipped"
            info(
                f"[yellow]warning:[/yellow] merge.human_weights names {', '.join(unknown)}, which this merge does "
                f"not have (its deltas: {', '.join(deltas)}); {outcome}"
            )
        return [float(weights.get(d, 0.0)) for d in deltas] if len(unknown) < len(weights) else None
    if len(weights) != len(deltas):
        raise ConfigError(
            f"merge.human_weights has {len(weights)} values for {len(deltas)} deltas ({', '.join(deltas)}); "
            "give one per delta in that order, or a mapping {delta: weight}"
        )
    return list(weights)


def baselines(space: SearchSpace, human: list[float] | None = None) -> list[tuple[str, list[float]]]:
    """AutoLLM's reference merges: each delta alone (``train@<delta>``), the average, and the human merge."""
    n = len(space.deltas)
    out = [(f"train@{d}", [1.0 if j == i else 0.0 for j in range(n)]) for i, d in enumerate(space.deltas)]
    out.append(("average_merge", [1.0 / n] * n))
    if human is not None:
        out.append(("human_merge", list(human)))
    return out


def enqueue_baselines(study: optuna.Study, space: SearchSpace, human: list[float] | None = None) -> int:
    """Enqueue the baselines as the study's first trials (only into an empty study); returns how many."""
    if study.trials:
        return 0
    items = baselines(space, human)
    for label, weights in items:
        study.enqueue_trial(space.params_of(weights), user_attrs={"label": label})
    return len(items)


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """TPE (default; multivariate, constant liar for parallel workers), GP, CMA-ES or random, seeded."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    try:
        if name == "gp":
            import scipy  # noqa: F401  (GPSampler needs it)

            return optuna.samplers.GPSampler(seed=seed)
        if name == "cmaes":
            import cmaes  # noqa: F401  (CmaEsSampler needs it)

            return optuna.samplers.CmaEsSampler(seed=seed)
    except ImportError as exc:
        raise ConfigError(f"sampler '{name}' needs the package {exc.name}: pip install 'evoforge[dev]'") from None
    raise ConfigError(f"unknown sampler '{name}' (choose from {', '.join(SAMPLERS)})")


def open_storage(url: str) -> Any:
    """An RDB URL (``sqlite:///…``; ``postgresql://…`` through psycopg 3), the run-state database (``env:NAME``:
    the URL in that environment variable, never written down), or else a journal file path."""
    from evoforge.database import ENV_PREFIX, resolve_ref, sqlalchemy_url

    if url.startswith(ENV_PREFIX):
        url = resolve_ref(url, "merge storage")
    if url.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "postgres"):
        import_extra("psycopg", "postgres", "a PostgreSQL merge storage")
        return sqlalchemy_url(url)
    if "://" in url:
        return url
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(url))


def study_location(
    database: str | None, merge_dir: Path, workers: int | None, name: str, storage: str | None = None
) -> tuple[str, str]:
    """Where a merge search keeps its study, (storage, study name): ``storage`` (merge.storage) when given; else the
    run-state ``database`` (``env:NAME``) under ``name`` (unique per run and round); else ``merge_dir``'s ``optuna.db``
    for one worker (None: local ones, only the first process's study sees), ``optuna.journal`` for several."""
    if storage:
        return storage, STUDY_NAME
    if database:
        return database, name
    if workers is None or workers == 1:
        return f"sqlite:///{(merge_dir / 'optuna.db').resolve()}", STUDY_NAME
    return str((merge_dir / "optuna.journal").resolve()), STUDY_NAME


def open_study(
    storage: str | None,
    sampler: optuna.samplers.BaseSampler,
    direction: Literal["minimize", "maximize"] = "maximize",
    study_name: str = STUDY_NAME,
) -> optuna.Study:
    """Create the study ``study_name``, or load it when the storage already holds one (a stopped search resumes);
    ``storage`` None keeps the study in memory (benchmarks, tests)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(storage) if storage else None
    return optuna.create_study(
        storage=store, study_name=study_name, sampler=sampler, direction=direction, load_if_exists=True
    )


def open_search(
    space: SearchSpace,
    sampler: str = "tpe",
    seed: int = 0,
    storage: str | None = None,
    direction: Literal["minimize", "maximize"] = "maximize",
    baselines: bool = True,
    human: list[float] | None = None,
    study_name: str = STUDY_NAME,
) -> optuna.Study:
    """Open (or resume) the study with a seeded ``sampler`` and, when ``baselines``, put the baselines first
    (into an empty study only; ``human``: the hand-picked merge's weights, one per delta)."""
    study = open_study(storage, make_sampler(sampler, seed), direction, study_name)
    if baselines:
        enqueue_baselines(study, space, human)
    return study


def completed(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The study's completed trials."""
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


class Scorer(Protocol):
    """Anything that scores a merge (a :class:`TrialRunner`, a test's objective); ``score_many`` too: a batch."""

    def score(self, spec: MergeSpec) -> TrialResult:
        """Score ``spec``."""


def score_all(runner: Scorer, specs: list[MergeSpec]) -> list[TrialResult]:
    """``specs`` scored by ``runner``: at once with its ``score_many`` when it has one, else one by one."""
    many = getattr(runner, "score_many", None)
    return list(many(specs)) if many is not None else [runner.score(spec) for spec in specs]


def optimize(
    study: optuna.Study,
    space: SearchSpace,
    runner: Scorer,
    n_trials: int,
    progress: ProgressHandle | None = None,
    batch: int = 1,
) -> optuna.Study:
    """Run trials until ``study`` holds ``n_trials`` completed ones (counting other workers' and earlier runs'):
    ask ``batch`` trials (the baselines first), score them (:func:`score_all`), tell them all. With a seeded
    sampler the trials depend on the seed and ``batch`` only (TPE's constant liar sees the batch as running); batch
    1 is ``study.optimize``'s ask and tell. A scoring error fails the batch's trials and is raised."""
    from optuna.trial import TrialState

    shown = len(completed(study))
    if progress is not None:
        progress.advance(min(shown, n_trials))
    while shown < n_trials:
        trials = [study.ask() for _ in range(min(batch, n_trials - shown))]
        specs = [space.suggest(trial) for trial in trials]
        try:
            results = score_all(runner, specs)
        except BaseException:
            for trial in trials:
                study.tell(trial, state=TrialState.FAIL)
            raise
        for trial, spec, result in zip(trials, specs, results, strict=True):
            for key, value in {"merge_s": result.merge_s, "eval_s": result.eval_s, "spec": spec.to_json()}.items():
                trial.set_user_attr(key, value)
            study.tell(trial, result.score)
        done = len(completed(study))
        if progress is not None:
            progress.advance(min(done, n_trials) - min(shown, n_trials))
            progress.note(f"best {study.best_value:.4f}")
        shown = done
    return study
