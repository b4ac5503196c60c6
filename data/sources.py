"""Data sources by name: the task worlds that generate seed, evaluation, preference and fragment records.

A data source is found through the ``evoforge.data_sources`` entry point group, whose entries are callables
returning a :class:`DataSource`. evoforge registers one, ``skills`` (the offline skills world of
:mod:`evoforge.offline.world`): its procedural tasks with oracle answers feed a run's seeds, evaluation set and
preference pairs, and Self-Evolution's knowledge fragments. So the layers that read it never import the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from evoforge.plugins import load_plugin

SOURCES = "evoforge.data_sources"
SKILLS = "skills"  # the skills world, the source a run's seeds, evaluation set and preference pairs come from


class DataSource(Protocol):
    """What a run reads of a task world; every generator is reproducible from ``(n, seed, ...)``."""

    def seed_records(
        self, n: int, seed: int, categories: Sequence[str] = ..., max_level: int = ...
    ) -> list[dict[str, Any]]:
        """``n`` seed instructions: rows ``instruction, input, output, category, level``."""
        ...

    def eval_records(
        self, n: int, seed: int, categories: Sequence[str] = ..., max_level: int = ...
    ) -> list[dict[str, Any]]:
        """``n`` evaluation items scored by exact match: rows ``prompt, reference, category, level``."""
        ...

    def preference_records(
        self, n: int, seed: int, categories: Sequence[str] = ..., max_level: int = ...
    ) -> list[dict[str, Any]]:
        """``n`` preference pairs: rows ``prompt, chosen, rejected, category, level``."""
        ...

    def fragment_records(self, n: int, seed: int, every_question: bool = ...) -> list[dict[str, Any]]:
        """``n`` knowledge fragments with a question each (all of them with ``every_question``): rows
        ``instruction`` (fragment), ``input`` (question), ``output``, ``category``."""
        ...

    def complexity(self, text: str) -> int:
        """The level of the task ``text`` renders (0 when it is not one of this source's tasks)."""
        ...


@cache
def data_source(name: str) -> DataSource:
    """The data source registered as ``name`` in the ``evoforge.data_sources`` entry point group (looked up once
    per process).

    Raises:
        ConfigError: no such source is installed (the message names the installed ones).
    """
    source: DataSource = load_plugin(SOURCES, name, "data source")()
    return source


def skills() -> DataSource:
    """The skills world (the ``skills`` data source): where a run's seeds, test set and preference pairs and
    Self-Evolution's fragments come from when no file gives them."""
    return data_source(SKILLS)
