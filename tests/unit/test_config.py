"""Configuration: defaults, validation errors that name file/line/field, overrides, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from config_files import config_error

from evoforge.errors import ConfigError
from evoforge.settings import SHIPPED_CONFIGS, Config, load_config, locate_config, redact, shipped_configs


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_offline_world() -> None:
    cfg = load_config(None)
    assert cfg.llm.models["sim"].model.startswith("sim/")
    assert cfg.llm.roles["optimizer"].temperature == 0.6
    assert cfg.llm.roles["evolver"].temperature == 0.0
    assert cfg.student.model == "tiny"


def test_unknown_key_is_an_error_with_line(tmp_path: Path) -> None:
    path = write(tmp_path, "run:\n  seed: 3\nevolve:\n  max_stepz: 4\n")
    text = config_error(path)
    assert str(path) in text
    assert "evolve.max_stepz" in text
    assert "line 4" in text
    assert "unknown key" in text


def test_bad_value_names_field_value_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, "evolve:\n  loop: zero\n")
    text = config_error(path)
    assert "evolve.loop" in text and "line 2" in text
    assert "'zero'" in text and "integer" in text


def test_removed_keys_are_errors_that_say_so(tmp_path: Path) -> None:
    path = write(tmp_path, "student:\n  dtype: bfloat16\nllm:\n  roles:\n    answerer: {model: sim}\n")
    text = config_error(path)
    assert "student.dtype (line 2): removed: it was never read" in text
    assert "llm.roles.answerer (line 5): removed: no agent used the 'answerer' role" in text
    with pytest.raises(ConfigError, match=r"student\.dtype: removed"):
        load_config(None, ["student.dtype=float32"])
    assert "answerer" not in load_config(None).llm.roles


def test_role_must_name_a_known_model(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  roles:\n    evolver:\n      model: gpt9\n")
    with pytest.raises(ConfigError, match="gpt9"):
        load_config(path)


def test_inline_api_key_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "llm:\n  models:\n    ds:\n      model: deepseek/deepseek-chat\n      api_key: sk-123\n")
    with pytest.raises(ConfigError, match="api_key_env"):
        load_config(path)


def test_overrides_apply_after_file(tmp_path: Path) -> None:
    path = write(tmp_path, "evolve:\n  max_steps: 5\n")
    cfg = load_config(path, ["evolve.max_steps=7", "merge.sampler=gp"])
    assert cfg.evolve.max_steps == 7
    assert cfg.merge.sampler == "gp"
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        load_config(path, ["nonsense"])


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "a: [1, 2\n"))


def test_yaml_round_trip() -> None:
    cfg = load_config(None, ["train.lora_r=4"])
    again = Config.model_validate(__import__("yaml").safe_load(cfg.to_yaml()))
    assert again == cfg


def test_redact_hides_secret_env_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-secret-value-1234")
    assert redact("calling with sk-secret-value-1234 now") == "calling with *** now"


CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def _leaves(node: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every (key path, scalar) of a YAML document."""
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, str(key)))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, (*path, str(i)))]
    return [(path, node)]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_are_valid_and_self_contained(path: Path) -> None:
    cfg = load_config(path)
    for entry in cfg.llm.models.values():
        assert entry.model.startswith("sim/") or entry.api_key_env or entry.api_base, entry
    leaves = _leaves(yaml.safe_load(path.read_text(encoding="utf-8")))
    for keys, value in leaves:
        assert not any("key" in k.lower() and k != "api_key_env" for k in keys), keys  # keys only by variable name
        if isinstance(value, str) and "://" not in value:
            assert ".." not in Path(value).parts, f"{'.'.join(keys)} points outside the repository: {value}"
            if value.startswith(("/", "~")):  # the one absolute path is the user's model, a documented placeholder
                assert keys == ("student", "model"), keys


def test_shipped_configs_are_found_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert shipped_configs() == [p.stem for p in CONFIGS] and CONFIGS[0].parent == SHIPPED_CONFIGS
    monkeypatch.chdir(tmp_path)  # nothing of that name here: the shipped file
    assert locate_config("deepseek") == locate_config("deepseek.yaml") == SHIPPED_CONFIGS / "deepseek.yaml"
    assert load_config("openai") == load_config(SHIPPED_CONFIGS / "openai.yaml")
    (tmp_path / "deepseek.yaml").write_text("cycle:\n  rounds: 7\n")  # a file of the user's wins
    assert locate_config("deepseek.yaml") == Path("deepseek.yaml") and load_config("deepseek.yaml").cycle.rounds == 7
    assert locate_config("deepseek") == SHIPPED_CONFIGS / "deepseek.yaml"  # no file "deepseek" here
    for missing in ("nope", "sub/deepseek.yaml"):  # a path with a folder is never a shipped name
        with pytest.raises(ConfigError, match=f"config file not found: {missing} .*deepseek, openai, quickstart"):
            load_config(missing)


def test_quickstart_is_the_offline_four_round_default() -> None:
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml")
    assert cfg.cycle.rounds == 4 and cfg.student.model == "tiny"
    assert all(m.model.startswith("sim/") for m in cfg.llm.models.values())


def test_a_cycle_on_the_instruct_graph_takes_the_instruct_config_and_its_roles(tmp_path: Path) -> None:
    airoboros = tmp_path / "airoboros.yaml"
    airoboros.write_text(
        "model: sim/skills\ntopics_path: topics.txt\nmax_tokens: 5000\ninstructors:\n  general: {count: 9}\n"
    )
    cycle = {"cycle": {"data_source": "instruct", "instruct_config": str(airoboros)}}
    path = write(tmp_path, yaml.safe_dump({**cycle, "instruct": {"dedup": "exact"}}))
    cfg = load_config(path)
    assert cfg.instruct.count("general") == 9 and cfg.instruct.dedup == "exact"  # this config's keys over the file's
    assert Path(cfg.instruct.topics_path or "").is_absolute() and cfg.cycle.instruct_config is None
    assert cfg.llm.roles["instructor"].model == "airoboros" and cfg.llm.models["airoboros"].model == "sim/skills"
    assert cfg.llm.roles["judge"].model == "sim"  # the cycle's own roles win
    assert cfg.llm.max_tokens_total == 5000  # the file's token budget holds for the cycle, unless it sets its own
    own = load_config(write(tmp_path, yaml.safe_dump({**cycle, "llm": {"max_tokens_total": 800}})))
    assert own.llm.max_tokens_total == 800
    assert load_config(write(tmp_path, cfg.to_yaml())) == cfg  # the snapshot reloads as it is, without the file
    assert load_config("quickstart").cycle.data_source == "evolve"  # the default stays evolve


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "names no instructor"),
        ({"instruct": {"role": "writer", "instructors": {"joke": {}}}}, r"instruct.role .* role 'writer'"),
        (
            {"evolve": {"data_path": "seeds.jsonl"}, "instruct": {"instructors": {"joke": {}}}},
            "remove evolve.data_path",
        ),
        ({"cycle": {"instruct_config": "nope.yaml"}}, "config file not found: nope.yaml"),
    ],
)
def test_a_cycle_on_the_instruct_graph_that_could_not_run_is_refused(
    tmp_path: Path, settings: dict[str, dict[str, object]], expected: str
) -> None:
    data = {**settings, "cycle": {"data_source": "instruct", **settings.get("cycle", {})}}
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, yaml.safe_dump(data)))


def test_a_config_file_in_another_encoding_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("run:\n  seed: 1  # café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.yaml: line 2 is not UTF-8 text \(byte 0xe9\)"):
        load_config(path)
    path.write_bytes("\ufeffrun:\n  seed: 7\n".encode())  # a byte-order mark is fine
    assert load_config(path).run.seed == 7
