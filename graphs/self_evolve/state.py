"""State of the ``self_evolve`` graph: the round counter, paths and per-round figures, never the Q&A themselves
(they live in each round's folder, see :mod:`evoforge.self_evolve.rounds`)."""

from __future__ import annotations

from typing import Any, TypedDict

from evoforge.graphs.review import Decision


class SelfEvolveInput(TypedDict, total=False):
    """The self_evolve graph's input schema (both default to the config's ``self_evolve`` keys).

    Attributes:
        start_id: the first round (above 0: continue a run whose rounds before it are complete).
        end_id: the rounds run are ``start_id .. end_id - 1``.
    """

    start_id: int
    end_id: int


class RoundSummary(TypedDict, total=False):
    """What one round did.

    Attributes:
        qa: Q&A written. dropped: fragments that gave none, by reason. ifd_median: median IFD of the Q&A.
        replayed: earlier Q&A trained on again. trained_on: records trained on. final_loss: the last logged loss.
        results: the closed-book ``predict_*`` figures of the round's model (``predict_exact_match`` too).
    """

    qa: int
    dropped: dict[str, int]
    ifd_median: float | None
    replayed: int
    trained_on: int
    final_loss: float | None
    results: dict[str, float]


class SelfEvolveState(SelfEvolveInput, total=False):
    """The self_evolve graph's state.

    Attributes:
        round: the round in progress. base: the base model directory. language: of the Q&A prompts.
        n_fragments / n_eval: knowledge fragments and closed-book questions (copies in the run's ``source/``).
        rounds: per round (its number as a string), a :class:`RoundSummary`.
        qa_decision: the answer at the last Q&A review.
        outputs: the files written at the end (relative to the run directory unless absolute).
    """

    round: int
    base: str
    language: str
    n_fragments: int
    n_eval: int
    rounds: dict[str, RoundSummary]
    qa_decision: Decision
    outputs: dict[str, Any]
