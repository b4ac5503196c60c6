"""The offline world (the embedded default): the skills world, the simulated LLM, its HTTP server, the tiny student.

It plugs in at the edge: the rest of the package reaches it only through entry points (see :mod:`evoforge.plugins`):
the gateway finds the simulated LLM through ``evoforge.llm_providers`` (``sim``), ``resolve_student`` the tiny
student and reader through ``evoforge.students`` (``tiny``, ``tiny-reader``) and the rounds, evolve runs and
Self-Evolution the skills world's records through ``evoforge.data_sources`` (``skills``). Only the ``world`` and
``student`` commands and the sim server (``evoforge serve sim``) import it, which an import-linter contract checks.
"""
