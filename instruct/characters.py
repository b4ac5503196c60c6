"""Character cards (the ``character`` instructor): the seed examples, the cards folder, and writing new cards.

Cards are files, as airoboros keeps them: one ``<md5 of the description>.json`` per card in the instructor's
``output_dir`` (``{"description", "stay_in_character", "name"}``), written atomically, so a stopped run keeps every
card it wrote and a resumed one writes only the missing ones. The examples a request shows come from ``seed_path``:
a folder of ``*.txt`` cards; airoboros' own ``character_seeds`` (or none) names evoforge's built-in examples.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

from evoforge.agents.instructors.characters import Card, Character
from evoforge.data.dedup import NearDuplicateIndex
from evoforge.errors import BudgetExceeded, ConfigError, DataError, LLMError
from evoforge.instruct.producers import Progress, failed_call
from evoforge.prompts import PROMPTS_DIR
from evoforge.runs import atomic_write_text
from evoforge.settings import InstructSettings

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway

BUILT_IN_SEEDS = "character_seeds"
PACKAGED_SEEDS = (BUILT_IN_SEEDS, "chat_card_seeds")  # airoboros' packaged seeds: 2.2's name, 2.0's (chat_card)


def seed_examples(seed_path: str | None) -> list[str]:
    """The example cards: ``seed_path``'s ``*.txt`` files (by name), or the built-in ones for airoboros' default
    (``character_seeds``, or ``chat_card_seeds`` in airoboros 2.0's configs).

    Raises:
        ConfigError: ``seed_path`` is neither a folder of ``*.txt`` files nor the built-in seeds' name.
    """
    folder = Path(seed_path or BUILT_IN_SEEDS).expanduser()
    if not folder.is_dir() and folder.name in PACKAGED_SEEDS:
        folder = PROMPTS_DIR / "en" / "instruct" / BUILT_IN_SEEDS
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        raise ConfigError(
            f"instructors.character.seed_path: {seed_path!r} is not a folder of *.txt example cards (from "
            f"{Path.cwd()}); leave it unset or '{BUILT_IN_SEEDS}' for the built-in examples"
        )
    return [path.read_text(encoding="utf-8") for path in files]


def read_cards(folder: Path) -> list[Card]:
    """The cards in ``folder`` (by file name; none when it does not exist).

    Raises:
        DataError: a file that is not a card.
    """
    cards = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            cards.append(Card.model_validate_json(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise DataError(f"{path}: not a character card (description, stay_in_character, name): {exc}") from None
    return cards


def write_card(folder: Path, card: Card) -> None:
    """Store one card (atomically) as airoboros does."""
    atomic_write_text(folder / card.file_name(), json.dumps(card.model_dump(), indent=2))


class CardWriter:
    """Writes cards until the ``character`` instructor's count is in the folder."""

    def __init__(self, gw: Gateway, settings: InstructSettings, folder: Path, index: NearDuplicateIndex) -> None:
        self.gw, self.settings, self.folder, self.index = gw, settings, folder, index
        self.stop_reason: str | None = None

    async def run(self) -> tuple[list[Card], Progress]:
        """Every card in the folder once the count is reached (or the instructor stopped), and the progress."""
        cards = await asyncio.to_thread(read_cards, self.folder)
        await asyncio.to_thread(self.index.extend, [card.description for card in cards])
        settings = self.settings.instructors["character"]
        progress = Progress("character", self.settings.count("character"), len(cards))
        examples = seed_examples(settings.seed_path)
        size = self.settings.batch_size("character")
        role = settings.role or self.settings.role
        language = settings.language or self.settings.language
        idle = 0
        while len(cards) < progress.target:
            if idle >= self.settings.patience:
                progress.stopped = "exhausted"
                break
            taken = [card.name for card in cards]
            messages = Character().card_messages(
                examples[progress.batches % len(examples)], size, settings, language, taken
            )
            sample, progress.batches = progress.batches, progress.batches + 1
            try:
                reply = await self.gw.complete(role, messages, sample=sample, **self.settings.params("character"))
            except BudgetExceeded:
                self.stop_reason = progress.stopped = "budget"
                break
            except LLMError as exc:
                progress.skipped[failed_call(exc, "request")] += 1
                idle += 1
                continue
            new = await self._keep(reply, cards, progress)
            idle = 0 if new else idle + 1
        return cards, progress

    async def _keep(self, reply: str, cards: list[Card], progress: Progress) -> int:
        """Store the reply's new cards (a new name, a description not too close to another card) up to the count."""
        found, broken = Character().cards(reply)
        if broken:
            progress.skipped["incomplete_card"] += broken
        kept = 0
        threshold = self.settings.threshold("character")
        for card in found:
            if len(cards) >= progress.target:
                break
            if card.name in {c.name for c in cards}:
                progress.skipped["name_taken"] += 1
            elif not await asyncio.to_thread(self.index.add, card.description, threshold):
                progress.skipped["too_similar"] += 1
            else:
                await asyncio.to_thread(write_card, self.folder, card)
                cards.append(card)
                progress.written += 1
                kept += 1
        return kept
