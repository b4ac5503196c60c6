"""The ``cycle`` graph (AutoLLM's closed loop, the main job): ``state`` → ``nodes`` → ``graph``, and its ``report``."""
