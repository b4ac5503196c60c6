"""The per-sample IFD reference: one record, two forward passes, the way Cherry_LLM scores.

Test code, which the package never runs: the correctness oracle of ``tests/unit/test_evals_ifd.py`` (batched
scoring must agree with it) and the baseline row of ``bench/ifd_throughput.py``. Import it as
``from evoforge.testing.ifd_reference import score_unbatched``.
"""

from __future__ import annotations

from typing import Any

from evoforge.evals.ifd import IFDScore, encode_pair, ifd_from_losses


def score_unbatched(
    model: Any, tokenizer: Any, record: dict[str, Any], variant: str = "cherry", max_length: int = 512
) -> IFDScore:
    """Reference IFD of one record the way Cherry_LLM computes it: two forward passes with ``labels`` (prompt
    positions set to -100) and the model's own mean loss; no batching, no padding."""
    import torch

    cond, direct = encode_pair(tokenizer, record, variant, max_length)
    device = next(model.parameters()).device
    losses: list[float | None] = []
    for ids, start in (cond, direct):
        if len(ids) - max(1, start) <= 0:
            losses.append(None)
            continue
        input_ids = torch.tensor([ids], device=device)
        labels = input_ids.clone()
        labels[0, :start] = -100
        with torch.inference_mode():
            losses.append(float(model(input_ids=input_ids, labels=labels).loss))
    return ifd_from_losses(losses[0], losses[1], len(cond[0]) - cond[1], variant)
