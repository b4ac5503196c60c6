"""The agents: async functions over pydantic inputs and outputs that render a prompt and call the LLM gateway.

evolver.evolve, analyzer.analyze, optimizer.optimize, generator.answer, judge.grade / judge.compare;
validator.failure_reason / validator.eliminate are plain rules; methods.INITIAL_METHOD is the paper's e0.
"""
