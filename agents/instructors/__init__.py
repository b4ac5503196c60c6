"""airoboros' instructors: one small class per category (:mod:`.plain`, :mod:`.shaped`, :mod:`.inline`) over
:mod:`.base`; a user's own prompt files through :mod:`.custom`.

``REGISTRY`` maps each name to its instructor; ``evoforge.settings.instruct.INSTRUCTOR_OPTIONS`` declares the names
and their options, and every declared name has a class here.
"""

from evoforge.agents.instructors import characters, inline, plain, rp, shaped
from evoforge.agents.instructors.base import (
    REGISTRY,
    Batch,
    Instructor,
    TaskList,
    check_prompt_files,
    dedup_key,
    parse_tasks,
)

__all__ = [
    "REGISTRY",
    "Batch",
    "Instructor",
    "TaskList",
    "characters",
    "check_prompt_files",
    "dedup_key",
    "inline",
    "parse_tasks",
    "plain",
    "rp",
    "shaped",
]
