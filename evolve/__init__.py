"""Auto Evol-Instruct's steps without LangGraph: evolve, analyse, optimise, validate, answer and eliminate."""
