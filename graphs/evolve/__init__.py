"""The ``evolve`` graph (Auto Evol-Instruct): ``state`` → ``nodes`` → ``graph``, and the ``report`` it writes."""
