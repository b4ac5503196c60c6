"""Cards written with every artefact: the evolve run's dataset card, a round's adapter and promoted-student cards."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import DatasetCard, ModelCard
from small_runs import SMALL_EVOLVE

from evoforge.cycle.model_cards import base_model_name, write_round_cards
from evoforge.cycle.round_record import RoundRecord
from evoforge.data.dataset_cards import machine_free
from evoforge.graphs.driver import drive
from evoforge.graphs.review import policy_decision
from evoforge.runs import RunDir
from evoforge.settings import load_config

PEFT_TEMPLATE = (
    "---\nbase_model: {base}\nlibrary_name: peft\n---\n\n# Model Card for Model ID\n\n[More Information Needed]\n"
)


def assert_machine_free(text: str, *paths: Path) -> None:
    """No absolute path of this machine (the test's folders, home, the repository) in ``text``."""
    for path in (*paths, Path.home(), Path.cwd()):
        assert str(path) not in text


def test_evolve_run_writes_a_dataset_card_that_load_dataset_reads(tmp_path: Path) -> None:
    from datasets import load_dataset

    cfg = load_config(None, [*SMALL_EVOLVE, f"run.runs_dir={tmp_path}"])
    run = RunDir.create(cfg, "evolve", "ev")
    asyncio.run(drive(run, policy_decision))
    card = DatasetCard.load(run.path / "README.md")
    assert card.data.configs[0]["data_files"][0]["path"] == "evolved.jsonl"
    assert "evoforge" in card.data.tags and card.data.size_categories == ["n<1K"]
    assert "λ history" in card.text and "| evolver | `sim/skills` |" in card.text
    assert_machine_free(str(card), tmp_path)
    rows = load_dataset(str(run.path), cache_dir=str(tmp_path / "cache"))["train"]
    assert len(rows) == len((run.path / "evolved.jsonl").read_text().splitlines()) > 0


def fake_round(tmp_path: Path) -> tuple[RunDir, RoundRecord, dict[str, Any]]:
    """A closed round's folders as the cycle leaves them: adapters with PEFT's template and training.json (with
    this machine's paths), a promoted student, the round's record and result."""
    cfg = load_config(None, [f"run.runs_dir={tmp_path}", f"evolve.data_path={tmp_path / 'seeds.jsonl'}"])
    run = RunDir.create(cfg, "run", "cyc")
    deltas = {}
    for chunk, method in (("math", "sft"), ("prefs", "dpo"), ("all", "sft")):
        folder = run.path / "rounds/1/adapters" / f"{chunk}-{method}"
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(PEFT_TEMPLATE.format(base=tmp_path / "tiny"))
        meta = {"name": folder.name, "chunk": chunk, "method": method, "base": str(tmp_path / "tiny")}
        (folder / "training.json").write_text(json.dumps({**meta, "config": {"rank": 8, "learning_rate": 1e-3}}))
        deltas[folder.name] = f"rounds/1/adapters/{folder.name}"
    student = run.path / "rounds/1/student"
    student.mkdir(parents=True)
    (student / "config.json").write_text("{}")
    record = RoundRecord(1, "rounds/1", "tiny", deltas=deltas, train_all=deltas.pop("all-sft"))
    result = {
        "round": 1,
        "rows": {"raw": 0.25, "train@all": 0.5, "train@math-sft": 0.5, "train@prefs-dpo": 0.3, "auto_merge": 0.625},
        "test": {"raw": 0.2, "train@all": 0.4, "train@math-sft": 0.45, "train@prefs-dpo": 0.3, "auto_merge": 0.55},
        "weights": {"auto_merge": {"math-sft": 0.7, "prefs-dpo": 0.3}},
        "promoted": True,
    }
    return run, record, result


def test_round_cards_replace_peft_templates_and_name_no_local_path(tmp_path: Path) -> None:
    run, record, result = fake_round(tmp_path)
    paths = write_round_cards(run.config(), run.path, record, result)
    folders = {p.parent.relative_to(run.path).as_posix() for p in paths}
    assert folders == {f"rounds/1/adapters/{n}" for n in ("math-sft", "prefs-dpo", "all-sft")} | {"rounds/1/student"}
    for path in paths:
        card = ModelCard.load(path)  # parses the front matter and its model-index into EvalResults
        assert card.data.base_model == "evoforge/tiny-student"
        assert "[More Information Needed]" not in card.text
        assert_machine_free(str(card), tmp_path)
    adapter = ModelCard.load(run.path / "rounds/1/adapters/math-sft/README.md")
    assert adapter.data.library_name == "peft" and adapter.data.datasets == ["rounds/1"]
    scores = {(r.dataset_split, r.metric_value) for r in adapter.data.eval_results}
    assert scores == {("test", 0.45), ("validation", 0.5)}
    assert "Chunk `math`, method SFT." in adapter.text and "| `learning_rate` |" not in adapter.text
    assert "| learning_rate | `0.001` |" in adapter.text and "evolve:" in adapter.text  # the config reproduces it
    merged = ModelCard.load(run.path / "rounds/1/student/README.md")
    assert merged.data.library_name == "transformers"
    assert {r.metric_value for r in merged.data.eval_results} == {0.55, 0.625}
    assert "| auto_merge | math-sft | 0.700 |" in merged.text and "| prefs-dpo | `prefs` | DPO |" in merged.text
    assert "| **auto_merge** | 0.625 | 0.550 |" in merged.text


def test_a_round_not_promoted_writes_no_student_card(tmp_path: Path) -> None:
    run, record, result = fake_round(tmp_path)
    paths = write_round_cards(run.config(), run.path, record, {**result, "promoted": False})
    assert len(paths) == 3 and not (run.path / "rounds/1/student/README.md").exists()


@pytest.mark.parametrize(
    ("student", "named"),
    [
        ("tiny", "evoforge/tiny-student"),
        ("tiny-reader", "evoforge/tiny-reader"),
        ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B"),
        ("rounds/1/student", "rounds/1/student"),
        ("/data/models/my-llm", "my-llm"),
    ],
)
def test_base_model_is_named_as_the_user_named_it_never_by_an_absolute_path(student: str, named: str) -> None:
    assert base_model_name(student) == named


def test_machine_free_keeps_urls_and_model_ids_and_drops_local_directories(tmp_path: Path) -> None:
    text = f"runs_dir: {tmp_path}\napi_base: http://localhost:8000/v1\nmodel: deepseek/deepseek-chat\nx: /srv/a/b.jsonl"
    out = machine_free(text, tmp_path / "run")
    assert (
        out
        == "runs_dir: <runs_dir>\napi_base: http://localhost:8000/v1\nmodel: deepseek/deepseek-chat\nx: <local>/b.jsonl"
    )


def test_instruct_run_writes_a_dataset_card_of_records_alpaca_and_sharegpt(tmp_path: Path) -> None:
    from datasets import load_dataset

    instruct = {"topic_request_count": 2, "default_count": 2, "dedup": "exact", "instructors": {"general": {}}}
    config = tmp_path / "instruct.yaml"
    config.write_text(json.dumps({"run": {"runs_dir": str(tmp_path)}, "instruct": instruct}))
    run = RunDir.create(load_config(config, []), "instruct", "ins")
    assert asyncio.run(drive(run, policy_decision, start={"mode": "instructions"})).outcome == "completed"
    card = DatasetCard.load(run.path / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["default", "alpaca", "sharegpt"]
    assert "| general | 2 | 0 | 2 | 2 |" in card.text and "| generator | `sim/skills` |" in card.text
    assert_machine_free(str(card), tmp_path)
    cache = str(tmp_path / "cache")  # datasets would reuse another run's cache of a folder with the same name
    assert load_dataset(str(run.path), cache_dir=cache)["train"]["instruction"] == [
        json.loads(line)["instruction"] for line in (run.path / "instructions.jsonl").read_text().splitlines()
    ]
    assert load_dataset(str(run.path), "sharegpt", cache_dir=cache)["train"].num_rows == 2
