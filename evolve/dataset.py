"""The final dataset of an evolve run: evolve every seed with the selected method, answer each generation, filter.

A call lost to transport faults (timeouts, 429, 5xx after every retry) is not the method's failure: its row is kept
apart with a ``lost`` reason (an evolution lost at generation g stands for that seed's generations g…loop), counted
as ``lost to errors`` and never as ``failed``. Given the rows of an earlier pass (``before``), both steps keep what
was made and send exactly the lost calls again, so the rows end as a fault-free run's.
"""

from __future__ import annotations

from collections.abc import Sequence

from evoforge.agents import validator
from evoforge.data.dedup import (
    EMBEDDING_DISTANCE,
    ROUGE_THRESHOLD,
    ExactIndex,
    NearDuplicateIndex,
    add_each,
    make_index,
)
from evoforge.evolve.steps import Row, Workbench, answer, evolve_chain, failure, fan_out, kept_apart
from evoforge.settings import Config

# the dataset line's figures, in order, and how they are named
COUNT_LABELS = {
    "seeds": "seeds",
    "answered": "answered",
    "failed": "failed",
    "eliminated": "eliminated",
    "duplicates": "duplicates",
    "kept": "kept",
    "lost": "lost to errors",
}


def _chain_rows(seed: Row, stages: Sequence[str], lost: str | None, method_id: str) -> list[Row]:
    """One row per generation of ``seed``'s chain, and a ``lost`` row where its next evolution was lost."""
    base = {
        "root": seed["instruction"],
        "root_id": seed["id"],
        "method_id": method_id,
        "category": seed.get("category"),
    }
    rows = [
        {"id": f"{seed['id']}-g{g}", "instruction": stages[g], "parent": stages[g - 1], "generation": g, **base}
        for g in range(1, len(stages))
    ]
    if lost is not None:
        g = len(stages)
        rows.append({"id": f"{seed['id']}-g{g}", "instruction": None, "parent": stages[-1], "generation": g, **base})
        rows[-1].update(response=None, lost=f"evolution: {lost}")
    return rows


async def evolve_dataset(
    res: Workbench, seeds: Sequence[Row], method: str, method_id: str, before: Sequence[Row] | None = None
) -> list[Row]:
    """Evolve every seed ``loop`` generations with the selected method: one row per generation.

    ``before``: the rows an earlier pass made with the same method; a seed's chain that was complete is kept, one
    that was lost goes on from its last generation (the same calls a fault-free pass made there).
    """
    loop = res.config.evolve.loop
    earlier: dict[str, list[Row]] = {}
    for row in before or ():
        earlier.setdefault(str(row["root_id"]), []).append(row)

    async def one(seed: Row) -> list[Row]:
        made = sorted(earlier.get(str(seed["id"]), []), key=lambda row: row["generation"])
        stages = [seed["instruction"], *(row["instruction"] for row in made if not row.get("lost"))]
        if before is not None and not any(row.get("lost") for row in made):
            return made
        stages, lost = await evolve_chain(res, stages, method, loop, f"dataset {seed['id']}", breadth=True)
        return _chain_rows(seed, stages, lost, method_id)

    chains = await fan_out(res, seeds, one, "evolve dataset")
    return [row for chain in chains for row in chain]


async def answer_rows(res: Workbench, rows: Sequence[Row], before: Sequence[Row] = ()) -> list[Row]:
    """Answer every evolved instruction: the rows with their ``response`` (None where the call failed; a ``lost``
    reason where it was lost to transport faults). An answer in ``before`` to the same instruction is kept."""
    answered = {(row["id"], row["instruction"]): row for row in before if not row.get("lost")}

    async def one(row: Row) -> Row:
        if row.get("lost"):  # its evolution was lost: nothing to answer
            return row
        if (row["id"], row["instruction"]) in answered:
            return answered[(row["id"], row["instruction"])]
        response, lost = await kept_apart(answer(res, row["instruction"], f"answer {row['id']}"))
        return {**row, "response": response, **({"lost": f"answer: {lost}"} if lost else {})}

    return await fan_out(res, rows, one, "answer dataset")


def duplicate_index(config: Config) -> NearDuplicateIndex:
    """The index that finds duplicate instructions in the final data: ``evolve.dedup`` at ``evolve.dedup_threshold``
    (else the rule's default), embeddings by ``instruct.embedding_model`` (loads the model; call it off the loop)."""
    settings = config.evolve
    default = EMBEDDING_DISTANCE if settings.dedup == "embedding" else ROUGE_THRESHOLD
    limit = default if settings.dedup_threshold is None else settings.dedup_threshold
    return make_index(settings.dedup, limit, config.instruct.embedding_model, config.instruct.embedding_device)


def filter_rows(
    rows: Sequence[Row], extra_rules: bool, elimination: bool, index: NearDuplicateIndex | None = None
) -> tuple[list[Row], dict[str, int]]:
    """Set aside rows lost to transport errors, drop failed responses, Evol-Instruct eliminations (optional), then
    duplicate instructions: those ``index`` finds near an instruction kept before them (default: the same text,
    case and white space ignored)."""
    answered: list[Row] = []
    lost = sum(1 for row in rows if row.get("lost"))
    counts = {"answered": len(rows) - lost, "failed": 0, "eliminated": 0, "duplicates": 0}
    for row in rows:
        if row.get("lost"):
            continue
        if failure(row["response"], extra_rules) is not None:
            counts["failed"] += 1
        elif elimination and validator.eliminate(row["parent"], row["instruction"], row["response"]) is not None:
            counts["eliminated"] += 1
        else:
            answered.append(row)
    novel = add_each(index or ExactIndex(), [row["instruction"] for row in answered])
    kept = [row for row, new in zip(answered, novel, strict=True) if new]
    counts["duplicates"] = len(answered) - len(kept)
    counts["kept"] = len(kept)
    counts["lost"] = lost
    return kept, counts


def dataset_line(counts: dict[str, int]) -> str:
    """The figures of the final dataset as the run prints and reports them (``seeds 30, answered 58, …``)."""
    return ", ".join(f"{COUNT_LABELS.get(key, key)} {value}" for key, value in counts.items())


LOST_IN_A_ROUND = (
    "The rows lost to transport errors (the round's `dataset/lost.jsonl`) are left out of this round's training: "
    "`evoforge resume` does not reopen a round, but running the same config again sends only the lost calls "
    "(the response cache answers every call that returned)."
)


def lost_note(lost: int, path: str, run_id: str, in_cycle: bool) -> str:
    """What the run says when ``lost`` rows (written to ``path``) were lost to transport errors."""
    then = LOST_IN_A_ROUND if in_cycle else f"`evoforge resume {run_id}` sends exactly those calls again, fills them in"
    return f"evolve: {lost} row(s) lost to transport errors after every retry ({path}). {then}"


def empty_dataset_message(rows: Sequence[Row], counts: dict[str, int], extra_rules: bool) -> str:
    """Why :func:`filter_rows` kept none of ``rows`` (its ``counts``), with the most common failures and what to
    change (the message of an evolve run that ends with an empty dataset)."""
    if not rows:
        return (
            "evolve: the final dataset is empty: no seed evolved into a new instruction (every evolution failed); "
            "check the evolver model (llm.roles.evolver) and the item_failed events in events.jsonl"
        )
    reasons: dict[str, int] = {}
    for row in rows:
        reason = "lost to transport errors" if row.get("lost") else failure(row["response"], extra_rules)
        if reason is not None:
            reasons[reason] = reasons.get(reason, 0) + 1
    common = "; ".join(f"{n}× {why}" for why, n in sorted(reasons.items(), key=lambda item: -item[1])[:3])
    lost = counts.get("lost", 0)
    return (
        f"evolve: the final dataset is empty: all {len(rows)} answers were dropped — "
        f"{counts['failed']} failed the validator" + (f" ({common})" if common else "") + ", "
        f"{counts['eliminated']} eliminated by Evol-Instruct's rules, {counts['duplicates']} duplicates"
        + (
            f", {lost} lost to transport errors (run the same config again: the response cache answers every call "
            "that returned and only the lost ones are sent)"
            if lost
            else ""
        )
        + ". See dataset/answered.jsonl in the run directory; check that the generator model (llm.roles.generator) "
        "answers these instructions and that evolve.instruction_field names the instruction, or relax the filters "
        "(--set evolve.elimination=false, evolve.extra_rules=false)"
    )
