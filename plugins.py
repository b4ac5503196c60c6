"""Named plug-ins: the entry points that installed distributions register under an ``evoforge.*`` group.

evoforge finds its pluggable parts by name through entry points rather than imports, so the package's core never
imports the offline world that provides the defaults: ``evoforge.llm_providers`` (custom LLM providers, see
:mod:`evoforge.llm.backend`), ``evoforge.students`` (named students, :mod:`evoforge.training.student`) and
``evoforge.data_sources`` (task worlds, :mod:`evoforge.data.sources`). Each is declared in ``pyproject.toml``.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from evoforge.errors import ConfigError


def plugin_names(group: str) -> tuple[str, ...]:
    """The names registered under the entry point group ``group``, sorted (empty when none is)."""
    return tuple(sorted({entry.name for entry in entry_points(group=group)}))


def load_plugin(group: str, name: str, what: str) -> Any:
    """The object that the entry point ``name`` of ``group`` names (``what`` says what it is, for the error).

    Raises:
        ConfigError: no entry point ``name`` is installed in ``group``; the message lists the installed ones.
    """
    for entry in entry_points(group=group, name=name):
        return entry.load()
    known = ", ".join(map(repr, plugin_names(group))) or "none"
    raise ConfigError(
        f"no {what} named {name!r} is installed (known: {known}); if it is one of evoforge's own, its entry points "
        f"({group}) are missing: reinstall evoforge (`make install`)"
    )
