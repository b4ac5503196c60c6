"""Config files for tests: an instruct config whose generation writes in a test's folder, and the error that
loading a config raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from evoforge.errors import ConfigError
from evoforge.settings import load_config


def instruct_config(folder: Path, runs_dir: str, **settings: Any) -> Path:
    """``folder/instruct.yaml``: runs in ``runs_dir``, the instruct section ``settings`` with its output
    (``instructions.jsonl``) and topics (``topics.txt``) files in ``folder``."""
    instruct = {"output_path": str(folder / "instructions.jsonl"), "topics_path": str(folder / "topics.txt")}
    path = folder / "instruct.yaml"
    path.write_text(yaml.safe_dump({"run": {"runs_dir": runs_dir}, "instruct": instruct | settings}))
    return path


def config_error(path: Path) -> str:
    """The message of the :class:`ConfigError` that loading the config file ``path`` raises (fails when none)."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)
