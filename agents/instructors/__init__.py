"""airoboros' instructors: one small class per category (:mod:`.plain`, :mod:`.structured`) over :mod:`.base`.

``REGISTRY`` maps each name to its instructor; ``evoforge.config.instruct.INSTRUCTOR_OPTIONS`` declares the names
and their options, and every declared name has a class here.
"""

from evoforge.agents.instructors import plain, structured
from evoforge.agents.instructors.base import REGISTRY, Batch, Instructor, TaskList, dedup_key, parse_tasks

__all__ = ["REGISTRY", "Batch", "Instructor", "TaskList", "dedup_key", "parse_tasks", "plain", "structured"]
