"""The named plug-ins: students and data sources found through entry points, with a clear error for a missing one."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from evoforge.data.sources import SKILLS, data_source, skills
from evoforge.errors import ConfigError
from evoforge.offline import world
from evoforge.offline.tiny_builds import SHIPPED, SHIPPED_READER
from evoforge.plugins import load_plugin, plugin_names
from evoforge.training.student import resolve_student, student_names

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("evoforge.llm_providers", "evoforge.students", "evoforge.data_sources")


def test_the_installed_entry_points_are_the_ones_pyproject_declares() -> None:
    """A stale install (metadata older than pyproject) fails here rather than as an unknown student mid-run."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group in GROUPS:
        assert {e.name: e.value for e in entry_points(group=group)} == declared[group], group


def test_the_named_students_are_the_offline_worlds_tiny_student_and_reader() -> None:
    assert student_names() == ("tiny", "tiny-reader")
    assert resolve_student("tiny") == SHIPPED
    assert resolve_student("tiny-reader") == SHIPPED_READER


def test_an_unknown_student_name_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigError, match=r"student 'tinyy' is not 'tiny', 'tiny-reader' or a local Hugging Face"):
        resolve_student("tinyy")


def test_the_skills_source_gives_the_skills_worlds_records_unchanged() -> None:
    source = skills()
    assert source is data_source(SKILLS)
    assert source.seed_records(6, 3, ["arithmetic", "strings"], 2) == world.seed_records(
        6, 3, ["arithmetic", "strings"], 2
    )
    assert source.eval_records(5, 4) == world.eval_records(5, 4)
    assert source.preference_records(4, 5, max_level=1) == world.preference_records(4, 5, max_level=1)
    assert source.fragment_records(3, 6, every_question=True) == world.fragment_records(3, 6, every_question=True)
    rows = source.seed_records(4, 7, max_level=3)
    assert [source.complexity(r["instruction"]) for r in rows] == [r["level"] for r in rows]
    assert source.complexity("not a task") == 0


def test_a_missing_data_source_names_the_installed_ones_and_says_to_reinstall() -> None:
    with pytest.raises(ConfigError, match=r"no data source named 'wiki' is installed \(known: 'skills'\).*reinstall"):
        data_source("wiki")


def test_a_group_with_nothing_installed_says_so() -> None:
    assert plugin_names("evoforge.no_such_group") == ()
    with pytest.raises(ConfigError, match=r"no student named 'tiny' is installed \(known: none\).*reinstall evoforge"):
        load_plugin("evoforge.no_such_group", "tiny", "student")
