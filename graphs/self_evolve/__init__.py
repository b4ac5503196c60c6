"""The ``self_evolve`` graph: Self-Evolution (seed 003) as a LangGraph state machine."""
