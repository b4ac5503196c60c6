"""The skills world as a data source: the ``skills`` entry of the ``evoforge.data_sources`` entry point group."""

from __future__ import annotations

from evoforge.data.sources import DataSource
from evoforge.offline import world


def as_data_source() -> DataSource:
    """The skills world (:mod:`evoforge.offline.world`): its record generators and :func:`complexity`."""
    return world
