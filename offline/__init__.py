"""The offline world (the embedded default): the skills world, the simulated LLM, its HTTP server, the tiny student.

Nothing below it imports it: the gateway finds the simulated LLM through the ``evoforge.llm_providers`` entry
point, and the layers that use the world or the tiny student (evolution, rounds, the CLI) import it directly.
"""
