"""Merge methods agree with peft.utils.merge_utils on the same tensors (DARE masks seeded identically)."""

from __future__ import annotations

import pytest
import torch
from peft.utils import merge_utils

from evoforge.errors import ConfigError
from evoforge.merging.methods import METHODS, get_method

REFERENCES = {
    "linear": lambda t, w, d: merge_utils.task_arithmetic(t, w),
    "ties": lambda t, w, d: merge_utils.ties(t, w, d),
    "dare_linear": lambda t, w, d: merge_utils.dare_linear(t, w, d),
    "dare_ties": lambda t, w, d: merge_utils.dare_ties(t, w, d),
    "magnitude_prune": lambda t, w, d: merge_utils.magnitude_prune(t, w, d),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("density", [0.3, 0.7])
def test_method_matches_peft(name: str, density: float) -> None:
    torch.manual_seed(0)
    tensors = [torch.randn(24, 16) for _ in range(3)]
    weights = torch.tensor([0.7, -0.4, 1.3])
    torch.manual_seed(123)
    expected = REFERENCES[name](tensors, weights, density)
    params = {"density": density} if "density" in {p.name for p in METHODS[name].parameters} else {}
    got = get_method(name, **params).merge(tensors, weights, torch.Generator().manual_seed(123))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_registry_and_parameters() -> None:
    assert set(REFERENCES) <= set(METHODS)
    assert get_method("ties").params == {"density": 0.5, "majority_sign_method": "total"}
    with pytest.raises(ConfigError, match="no parameter"):
        get_method("linear", density=0.5)
    with pytest.raises(ConfigError, match="unknown merge method"):
        get_method("slerp-ish")


def test_linear_normalize_is_a_weighted_average() -> None:
    tensors = [torch.full((2, 2), 1.0), torch.full((2, 2), 3.0)]
    got = get_method("linear", normalize=True).merge(tensors, torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(got, torch.full((2, 2), 2.5))
