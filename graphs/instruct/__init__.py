"""The ``instruct`` graph (airoboros' generation): ``state`` → ``nodes`` → ``graph``, and the ``report`` it writes."""
