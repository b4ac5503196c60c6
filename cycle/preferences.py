"""Preference pairs beside a round's instruction data: the chunk that trains the round's DPO delta.

AutoLLM's table has DPO deltas next to the SFT ones, trained where the data has negative examples. A round's
evolved data has none, so pairs come from beside it: the user's file of chosen/rejected pairs
(``train.preference_data``, any supported format, the same pairs every round), or on the skills world
``world.n_prefs`` fresh pairs per round whose rejected answer is a near miss (a slightly misread task, see
:func:`evoforge.offline.world.near_miss`). They form the ``preferences`` chunk, with its own held-out share;
under ``train.method: auto`` a chunk of pairs only trains DPO.
"""

from __future__ import annotations

from evoforge.data.chunking import PREFERENCES_CHUNK, chunk_dataset
from evoforge.data.formats import load_examples
from evoforge.data.records import Example
from evoforge.data.sources import skills
from evoforge.errors import DataError
from evoforge.settings import Config

PREFS_SEED_OFFSET = 77_773  # the round's pairs never share a random stream with its seeds or the test set


def round_preferences(config: Config, round_n: int, on_world: bool) -> list[Example]:
    """The round's preference pairs: the user's file, else (on the skills world) ``world.n_prefs`` fresh ones."""
    path = config.train.preference_data
    if path is not None:
        pairs = [example for example in load_examples(path) if example.is_preference]
        if not pairs:
            raise DataError(f"{path} (train.preference_data): no pairs (each row needs prompt, chosen, rejected)")
        return pairs
    if not on_world or config.world.n_prefs == 0:
        return []
    world = config.world
    seed = config.run.seed + PREFS_SEED_OFFSET + round_n
    rows = skills().preference_records(world.n_prefs, seed, world.categories, world.max_level)
    return [Example.from_row(row, f"preference pair {i}") for i, row in enumerate(rows)]


def with_preferences(
    chunks: dict[str, list[Example]], held_out: list[Example], pairs: list[Example], eval_fraction: float, seed: int
) -> tuple[dict[str, list[Example]], list[Example]]:
    """``chunks`` and ``held_out`` with the pairs added as the ``preferences`` chunk and its held-out share."""
    if not pairs:
        return chunks, held_out
    if PREFERENCES_CHUNK in chunks:
        raise DataError(f"a chunk is already named '{PREFERENCES_CHUNK}'; rename that category or field value")
    split, held = chunk_dataset(pairs, "parts:1", eval_fraction, seed)
    held = [example.with_meta(chunk=PREFERENCES_CHUNK) for example in held]
    return {**chunks, PREFERENCES_CHUNK: split["part1"]}, [*held_out, *held]
