"""The merge-weight search: known optimum of a synthetic objective, baselines first, resume, storages."""

from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.errors import ConfigError
from evoforge.merging.search import (
    SearchSpace,
    baselines,
    completed,
    enqueue_baselines,
    human_weights,
    make_sampler,
    open_search,
    open_study,
    optimize,
)
from evoforge.merging.trial import MergeSpec, TrialResult
from evoforge.settings import MergeSettings

TARGET = {"a": 0.2, "b": 0.7, "c": 0.45}


class Quadratic:
    """A concave quadratic in the weights with its maximum (0) at TARGET."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, spec: MergeSpec) -> TrialResult:
        self.calls += 1
        return TrialResult(-sum((spec.weights[k][0] - t) ** 2 for k, t in TARGET.items()), 0.0, 0.0)


@pytest.mark.parametrize("sampler", ["tpe", "gp", "cmaes", "random"])
def test_every_sampler_runs_and_improves_on_the_baselines(sampler: str) -> None:
    space = SearchSpace(list(TARGET))
    study = open_study(None, make_sampler(sampler, seed=0))
    assert enqueue_baselines(study, space, human=[0.5, 0.5, 0.5]) == 5
    optimize(study, space, Quadratic(), n_trials=30 if sampler != "gp" else 10)
    labels = [t.user_attrs.get("label") for t in completed(study)[:5]]
    assert labels == ["train@a", "train@b", "train@c", "average_merge", "human_merge"]
    assert study.best_value > max(t.value for t in completed(study)[:5])


def test_default_sampler_finds_the_known_optimum_in_30_trials() -> None:
    space = SearchSpace(list(TARGET))
    study = open_study(None, make_sampler("tpe", seed=1))
    optimize(study, space, Quadratic(), n_trials=30)
    best = space.spec_of(study.best_params)
    assert study.best_value > -0.02
    assert all(abs(best.weights[k][0] - t) < 0.12 for k, t in TARGET.items())


def _trials(batch: int, seed: int = 3) -> list[tuple[dict[str, float], float]]:
    space = SearchSpace(list(TARGET))
    study = open_search(space, "tpe", seed, human=[0.5, 0.5, 0.5])
    optimize(study, space, Quadratic(), n_trials=16, batch=batch)
    return [(t.params, float(t.value or 0.0)) for t in completed(study)]


def test_one_at_a_time_the_search_takes_the_trials_study_optimize_takes() -> None:
    space = SearchSpace(list(TARGET))
    study = open_search(space, "tpe", 3, human=[0.5, 0.5, 0.5])
    study.optimize(lambda trial: Quadratic().score(space.suggest(trial)).score, n_trials=16)
    assert _trials(1) == [(t.params, float(t.value or 0.0)) for t in completed(study)]


def test_batches_of_trials_repeat_for_a_seed_and_a_batch_size() -> None:
    two = _trials(2)
    assert len(two) == 16 and two == _trials(2)
    assert two[:5] == _trials(1)[:5]  # the baselines come first whatever the batch
    assert two != _trials(1) and two != _trials(2, seed=4)  # the searched trials depend on the batch and the seed


@pytest.mark.parametrize("storage", ["sqlite", "journal"])
def test_a_stopped_search_resumes_where_it_was(storage: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}" if storage == "sqlite" else str(tmp_path / "optuna.journal")
    space = SearchSpace(["a", "b", "c"], groups=2, low=-1.5, high=1.5)
    first = Quadratic()
    optimize(open_study(url, make_sampler("tpe", 0)), space, first, n_trials=8)
    second = Quadratic()
    study = optimize(open_study(url, make_sampler("tpe", 0)), space, second, n_trials=12)
    assert (first.calls, second.calls, len(completed(study))) == (8, 4, 12)
    assert set(study.best_params) == {f"w:{d}:g{g}" for d in "abc" for g in (0, 1)}


def test_method_and_density_can_be_searched() -> None:
    import optuna

    space = SearchSpace(["a", "b"], methods=("linear", "ties", "dare_ties"))
    study = optuna.create_study(sampler=make_sampler("random", 0))
    specs: list[MergeSpec] = []
    study.optimize(lambda t: specs.append(space.suggest(t)) or 0.0, n_trials=20)
    assert {s.method for s in specs} == {"linear", "ties", "dare_ties"}
    assert all(("density" in s.params) == (s.method != "linear") for s in specs)
    trial = study.trials[-1]
    assert space.spec_of(trial.params) == specs[-1]


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown sampler"):
        make_sampler("anneal", 0)
    with pytest.raises(ConfigError, match="unknown merge method"):
        SearchSpace(["a"], methods=("slerp",))
    with pytest.raises(ConfigError, match="baseline merge has 1 weights"):
        SearchSpace(["a", "b"]).params_of([0.5])


def test_human_weights_by_name_or_in_plan_order() -> None:
    deltas = ["arithmetic-sft", "strings-sft", "format-dpo"]
    assert human_weights({"format-dpo": 0.3, "arithmetic-sft": 0.5}, deltas) == [0.5, 0.0, 0.3]
    assert human_weights(MergeSettings(human_weights=[0.1, 0.2, 0.3]).human_weights, deltas) == [0.1, 0.2, 0.3]
    assert human_weights(None, deltas) is None
    assert human_weights({"strings-dpo": 1.0}, deltas) is None  # names no delta of this round: no human merge
    assert human_weights({"strings-dpo": 1.0, "strings-sft": 0.5}, deltas) == [0.0, 0.5, 0.0]
    with pytest.raises(ConfigError, match="2 values for 3 deltas"):
        human_weights([0.1, 0.2], deltas)


def test_baselines_are_plain_deltas_when_the_method_is_searched() -> None:
    space = SearchSpace(["a", "b"], methods=("ties", "linear"))
    assert space.params_of([1.0, 0.0]) == {"w:a": 1.0, "w:b": 0.0, "method": "linear"}
    ties_only = SearchSpace(["a", "b"], low=-0.5, high=0.5, methods=("ties",))
    assert ties_only.params_of([1.0, -2.0]) == {"w:a": 0.5, "w:b": -0.5, "density": 1.0}
    assert [label for label, _ in baselines(space)] == ["train@a", "train@b", "average_merge"]


def test_settings_make_the_space_and_a_resumed_search_enqueues_nothing(tmp_path: Path) -> None:
    settings = MergeSettings(method=["linear", "ties"], per_layer_groups=2, low=-1.0, normalize=True, density=0.3)
    space = SearchSpace.from_settings(["a", "b"], settings)
    assert (space.groups, space.low, space.high, space.methods) == (2, -1.0, 1.0, ("linear", "ties"))
    assert (space.density, space.options) == (0.3, {"normalize": True})
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = open_search(space, "random", seed=0, storage=url, human=[0.5, 0.5])
    assert [t.user_attrs["label"] for t in study.trials] == ["train@a", "train@b", "average_merge", "human_merge"]
    assert len(open_search(space, "random", seed=0, storage=url).trials) == 4
    assert not open_search(space, baselines=False).trials
