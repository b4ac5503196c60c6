"""airoboros' cull: group near-duplicate records and keep, of each group, the one the judge grades best.

Records are grouped by the instruct section's de-duplication rule and threshold (``instruct.dedup``, with
``min_docsearch_score`` or ``rouge_threshold``), comparing each record's ``dedup_key`` across all categories, as the
generation's one index does: :func:`~evoforge.data.near_groups.near_duplicate_groups` joins near pairs into connected
groups. A record near no other is kept as it is, ungraded. In a group the judge (role ``instruct.cull_role``) grades
each member's response to its instruction from 1 to 10 (no reference); the best grade is kept, a tie going to the
member written first. The kept records stay in the file's order. The records of an instructor that is not
``culled`` (rp, gtkm: the rows of one chat share their prompt's beginning; stylized_response: it repeats another
record's instruction on purpose) are kept as they are, as airoboros' cull keeps rp and stylized_response. With
``batch: true`` on the judge's model entry the grades go as one batch (:func:`evoforge.llm.batch.in_passes`).
:func:`cull_run` is ``evoforge instruct cull``'s run: the cull, its files and its report section.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.agents.instructors import REGISTRY, dedup_key
from evoforge.agents.judge import GradeInput, GradeOutput, grade
from evoforge.data.near_groups import near_duplicate_groups
from evoforge.llm.batch import gather_all, in_passes
from evoforge.settings import InstructSettings

if TYPE_CHECKING:
    from evoforge.llm.protocol import Gateway
    from evoforge.runs import RunDir
    from evoforge.settings import Config

Row = dict[str, Any]
PREVIEW = 120  # characters of an instruction kept in the groups file


@dataclass
class CullResult:
    """What a cull kept, and every group with its members' grades.

    Attributes:
        kept: the records kept, in their order.
        groups: one entry per group: ``members`` (``index`` in the input, ``category``, ``instruction`` preview,
            ``grade``, ``reason``) and ``kept`` (the index kept).
        total: records read.
    """

    kept: list[Row]
    groups: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    @property
    def dropped(self) -> int:
        """Records left out (every group's members but its best)."""
        return self.total - len(self.kept)


async def cull_records(
    gw: Gateway, records: Sequence[Row], settings: InstructSettings, language: str = "en", embedder: Any = None
) -> CullResult:
    """Keep the best-graded record of each group of near duplicates in ``records`` (see the module)."""
    compared = [i for i, r in enumerate(records) if _culled(str(r.get("category", "")))]
    texts = [dedup_key(str(records[i].get("category", "")), str(records[i]["instruction"])) for i in compared]
    where = (settings.dedup, settings.threshold(), settings.embedding_model, settings.embedding_device, embedder)
    found = await asyncio.to_thread(near_duplicate_groups, texts, *where)
    groups = [[compared[j] for j in group] for group in found]
    members = [i for group in groups for i in group]

    def grades_asked() -> Awaitable[list[GradeOutput]]:
        return gather_all(
            grade(
                gw,
                GradeInput(
                    instruction=records[i]["instruction"], answer=str(records[i].get("response", "")), language=language
                ),
                sample=0,
                role=settings.cull_role,
            )
            for i in members
        )

    grades = await in_passes(None if gw is None else gw.batches, grades_asked)
    graded = dict(zip(members, grades, strict=True))
    dropped: set[int] = set()
    described = []
    for group in groups:
        best = max(group, key=lambda i: (graded[i].score, -i))  # the best grade; of equals, the first written
        dropped |= set(group) - {best}
        described.append(
            {
                "kept": best,
                "members": [
                    {
                        "index": i,
                        "category": records[i].get("category"),
                        "instruction": str(records[i]["instruction"])[:PREVIEW],
                        "grade": graded[i].score,
                        "reason": graded[i].reason,
                    }
                    for i in group
                ],
            }
        )
    kept = [dict(r) for i, r in enumerate(records) if i not in dropped]
    return CullResult(kept, described, len(records))


def _culled(category: str) -> bool:
    """Whether the records of ``category`` are compared (a category no instructor of ours writes is)."""
    instructor = REGISTRY.get(category)
    return instructor is None or instructor.culled


def cull_run(cfg: Config, run: RunDir, source: Path, records: Sequence[Row], output: Path | None) -> CullResult:
    """Cull ``records`` (read from ``source``) in ``run`` through the run's gateway: writes
    ``culled.jsonl``, ``cull_groups.jsonl``, the kept records to ``output`` too when given, and the report's cull
    section; finishes the run."""
    from evoforge.llm.run_gateway import build_gateway
    from evoforge.runs import atomic_write_jsonl

    with run.recording(), build_gateway(cfg, run) as gateway:
        result = asyncio.run(cull_records(gateway, records, cfg.instruct, cfg.run.language))
        atomic_write_jsonl(run.file("culled.jsonl"), result.kept)
        atomic_write_jsonl(run.file("cull_groups.jsonl"), result.groups)
        if output is not None:
            atomic_write_jsonl(output, result.kept)
        _cull_report(run, cfg, source, result)
    run.finish("completed", records=result.total, kept=len(result.kept), groups=len(result.groups))
    return result


def _cull_report(run: RunDir, cfg: Config, source: Path, result: CullResult) -> None:
    """The report's cull section: what was read, the rule, the groups and what was kept."""
    from evoforge.report import write_section

    settings = cfg.instruct
    lines = [
        "## Cull (airoboros' cull-instructions)",
        "",
        f"Records: `{source}` ({result.total}). Near duplicates: {settings.dedup} (threshold {settings.threshold()}); "
        f"judge: role `{settings.cull_role}`.",
        f"Groups: {len(result.groups)}, dropped {result.dropped}, kept {len(result.kept)} (`culled.jsonl`; every "
        "group with its grades in `cull_groups.jsonl`).",
    ]
    write_section(run.file("report.md"), "cull", "\n".join(lines))
