"""Straight paths in a graph's builder: ``a → b → c`` as one call, as the graphs' docstrings draw them."""

from __future__ import annotations

import itertools
from typing import Any

from langgraph.graph import StateGraph


def add_path(builder: StateGraph[Any, Any, Any, Any], *names: str) -> None:
    """An edge from each of ``names`` to the next (``START`` and ``END`` among them where the path begins or ends)."""
    for source, target in itertools.pairwise(names):
        builder.add_edge(source, target)
