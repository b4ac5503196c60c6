"""One AutoLLM round's work without LangGraph: seeds, chunks, deltas, merge search, test evaluation, steering."""
