"""The offline skills world: procedurally generated instruction tasks with oracle answers.

Four categories (arithmetic, strings, format, instruct); each task renders to short English, parses back from
it, has a complexity level and an exact-match oracle answer, and can be evolved by Evol-Instruct's operations.
"""

from evoforge.offline.world.evolution import (
    BREADTH,
    FAILURES,
    OPERATIONS,
    complexity,
    evolve_task,
    failed_evolution,
    has_scaffolding,
    strip_scaffolding,
)
from evoforge.offline.world.generators import (
    eval_records,
    fragment_records,
    generate_tasks,
    preference_records,
    seed_records,
)
from evoforge.offline.world.spec import DEPTH_OPS, Spec, Task, plausible_wrong
from evoforge.offline.world.tasks import CATEGORIES, check_answer, near_miss, parse_instruction, sample_task

__all__ = [
    "BREADTH",
    "CATEGORIES",
    "DEPTH_OPS",
    "FAILURES",
    "OPERATIONS",
    "Spec",
    "Task",
    "check_answer",
    "complexity",
    "eval_records",
    "evolve_task",
    "failed_evolution",
    "fragment_records",
    "generate_tasks",
    "has_scaffolding",
    "near_miss",
    "parse_instruction",
    "plausible_wrong",
    "preference_records",
    "sample_task",
    "seed_records",
    "strip_scaffolding",
]
