"""Seeds from the Hugging Face hub, without the internet: an injected loader stands in for ``datasets.load_dataset``.

What is checked: the name and split it is asked for, the token it is given (``HF_TOKEN`` is left to the library, the
Auto Evol-Instruct seed's ``MY_HF_TOKEN`` is passed on), errors that name the dataset and never show the token, and
that the shipped real configs' seed data is a hub dataset whose fields normalise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from evoforge.data.seeds import normalise, read_raw
from evoforge.errors import DataError
from evoforge.settings import SHIPPED_CONFIGS, load_config

# Two rows shaped as tatsu-lab/alpaca's: instruction, input (often empty), output, text.
ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well.", "text": "..."},
    {"instruction": "Identify the odd one out.", "input": "Twitter, Instagram, Telegram", "output": "Telegram"},
]


class FakeHub:
    """Records each call and answers with ``rows`` (or raises ``error``)."""

    def __init__(self, rows: list[dict[str, Any]], error: Exception | None = None) -> None:
        self.rows, self.error = rows, error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, name: str, **kwargs: Any) -> Iterable[Mapping[str, Any]]:
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error
        return self.rows


@pytest.fixture(autouse=True)
def no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "MY_HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def test_hub_name_reads_the_train_split_or_the_one_named() -> None:
    hub = FakeHub(ALPACA)
    records = read_raw("tatsu-lab/alpaca", load=hub)
    assert hub.calls == [("tatsu-lab/alpaca", {"split": "train", "token": None})]
    assert [where for where, _ in records] == ["tatsu-lab/alpaca[0]", "tatsu-lab/alpaca[1]"]
    read_raw("tatsu-lab/alpaca:train[:100]", load=hub)
    assert hub.calls[-1] == ("tatsu-lab/alpaca", {"split": "train[:100]", "token": None})


def test_alpaca_input_is_appended_to_the_instruction() -> None:
    seeds = normalise(read_raw("tatsu-lab/alpaca", load=FakeHub(ALPACA)), "instruction", "output")
    assert [s["instruction"] for s in seeds] == [
        "Give three tips for staying healthy.",
        "Identify the odd one out.\n\nTwitter, Instagram, Telegram",
    ]
    assert [s["response"] for s in seeds] == ["Eat well.", "Telegram"]
    [as_field] = normalise([("f:1", {"input": "Say hi", "output": "hi"})], "input", "output")
    assert as_field["instruction"] == "Say hi"  # an instruction field named "input" is not appended to itself


@pytest.mark.parametrize(
    ("env", "passed"),
    [
        ({}, None),
        ({"HF_TOKEN": "hf_standard_token_1"}, None),  # datasets reads HF_TOKEN itself
        ({"MY_HF_TOKEN": "hf_seed_token_22"}, "hf_seed_token_22"),
        ({"HF_TOKEN": "hf_standard_token_1", "MY_HF_TOKEN": "hf_seed_token_22"}, None),  # HF_TOKEN wins
    ],
)
def test_token_comes_from_hf_token_or_the_seeds_my_hf_token(
    env: dict[str, str], passed: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hub = FakeHub(ALPACA)
    read_raw("owner/private-set", load=hub)
    assert hub.calls[0][1]["token"] == passed


def test_a_failed_load_names_the_dataset_and_hides_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_HF_TOKEN", "hf_seed_token_22")
    hub = FakeHub([], error=PermissionError("401 for https://hf.co/x with hf_seed_token_22"))
    with pytest.raises(DataError) as caught:
        read_raw("owner/gated:test", load=hub)
    message = str(caught.value)
    assert "split 'test' of the Hugging Face dataset 'owner/gated'" in message and "PermissionError" in message
    assert "hf_seed_token_22" not in message and "***" in message


def test_local_paths_are_never_sent_to_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    hub = FakeHub(ALPACA)
    with pytest.raises(DataError, match="not found"):
        read_raw("data/missing.jsonl", load=hub)  # a file name: its own error, not a hub lookup
    datasets.Dataset.from_list(ALPACA[1:]).save_to_disk(str(tmp_path / "owner" / "name"))
    monkeypatch.chdir(tmp_path)
    assert read_raw("owner/name", load=hub)[0][1]["output"] == "Telegram"  # a saved dataset shaped like a hub name
    assert hub.calls == []


REAL = sorted(p for p in SHIPPED_CONFIGS.glob("*.yaml") if load_config(p).evolve.data_path)


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_configs_seed_from_a_hub_dataset_their_fields_fit(path: Path) -> None:
    settings = load_config(path).evolve
    hub = FakeHub(ALPACA)
    seeds = normalise(read_raw(str(settings.data_path), load=hub), settings.instruction_field, settings.response_field)
    assert [name for name, _ in hub.calls] == ["tatsu-lab/alpaca"]
    assert seeds[1]["instruction"].endswith("Telegram") and seeds[1]["response"] == "Telegram"
    assert settings.train_size + settings.dev_size <= 1000  # the slice the configs take holds both splits
