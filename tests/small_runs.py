"""Reduced run sizes for tests: small enough for seconds (evolve) or minutes (cycle) on a 2-core CPU, large enough
for every step and every table row."""

EVOLVE_SIZES = [
    "evolve.train_size=8",
    "evolve.dev_size=8",
    "evolve.batch_size=4",
    "evolve.max_steps=1",
    "evolve.loop=1",
    "evolve.candidate_size=2",
]
SMALL_EVOLVE = ["world.n_seeds=24", *EVOLVE_SIZES]
SMALL_CYCLE = [
    *SMALL_EVOLVE,
    "world.n_eval=16",
    "train.epochs=1",
    "world.n_prefs=8",  # a small preferences chunk: the quickstart's DPO delta
    "merge.trials=9",  # the baselines (each delta, the average, the quickstart's human merge) and 2 searched
    "eval.max_new_tokens=24",
    "cycle.rounds=2",
]
# one optimisation step of two candidates over two generations: the evolve runs the tests answer with the sim server
SIM_EVOLVE_SIZES = [
    "evolve.train_size=6",
    "evolve.dev_size=6",
    "evolve.batch_size=3",
    "evolve.max_steps=1",
    "evolve.loop=2",
    "evolve.candidate_size=2",
    "evolve.patience=1",
]
