"""A reduced cycle for tests: small enough for minutes on a 2-core CPU, large enough for every table row."""

SMALL_CYCLE = [
    "world.n_seeds=24",
    "world.n_eval=16",
    "evolve.train_size=8",
    "evolve.dev_size=8",
    "evolve.batch_size=4",
    "evolve.max_steps=1",
    "evolve.loop=1",
    "evolve.candidate_size=2",
    "train.epochs=1",
    "merge.trials=7",  # the 5 baselines (4 single deltas, the average) and 2 searched
    "eval.max_new_tokens=24",
    "cycle.rounds=2",
]
