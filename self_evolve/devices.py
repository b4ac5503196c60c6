"""Where a Self-Evolution run computes: the seed's ``--cuda_device`` (the GPU that trains) and ``--infer_gpu``
(vLLM's tensor parallel size) mapped onto this process, and what ``--use_vllm`` becomes on a machine that cannot run
vLLM.

The seed trains in a child process started with ``CUDA_VISIBLE_DEVICES=<cuda_device>``; evoforge generates, scores
and trains in one process, so the run's GPUs are made visible once, before CUDA starts: ``cuda_device`` first (it is
``cuda:0``, where training and the transformers generator run), then the lowest other ids up to ``infer_gpu`` GPUs
(vLLM's tensor parallel group is the first ``infer_gpu`` visible ones).
"""

from __future__ import annotations

import importlib.util
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evoforge.settings.self_evolve import SelfEvolveSettings

VISIBLE = "CUDA_VISIBLE_DEVICES"


def visible_devices(cuda_device: int, infer_gpu: int) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` of a run on GPU ``cuda_device`` that generates on ``infer_gpu`` GPUs."""
    others = [d for d in range(cuda_device + infer_gpu) if d != cuda_device][: infer_gpu - 1]
    return ",".join(str(d) for d in [cuda_device, *others])


def select_devices(settings: SelfEvolveSettings) -> str | None:
    """Make the run's GPUs the visible ones (call before CUDA starts; nothing when ``cuda_device`` is None).

    Returns:
        The value ``CUDA_VISIBLE_DEVICES`` held before when it was set to something else, else None.
    """
    if settings.cuda_device is None:
        return None
    wanted = visible_devices(settings.cuda_device, settings.infer_gpu)
    before = os.environ.get(VISIBLE)
    os.environ[VISIBLE] = wanted
    return before if before not in (None, wanted) else None


def device_plan(settings: SelfEvolveSettings) -> tuple[list[str], list[str]]:
    """Apply ``cuda_device`` to this process and say what the device flags become here.

    Returns:
        ``(overrides, notices)``: ``self_evolve.use_vllm=false`` when vLLM cannot run here (vllm not installed, or
        no CUDA GPU visible): the Q&A and the evaluation are then generated with transformers, from the same prompts
        with the same sampling and seed (vLLM is the seed's speed-up, not a different method); and one line per flag
        that this machine does not honour as written.
    """
    replaced = select_devices(settings)
    notices = [f"--cuda_device {settings.cuda_device}: replacing {VISIBLE}={replaced}"] if replaced else []
    if not (settings.use_vllm or settings.cuda_device is not None or settings.infer_gpu > 1):
        return [], notices
    import torch

    gpu = torch.cuda.is_available()
    overrides: list[str] = []
    vllm = settings.use_vllm
    if vllm and not (gpu and importlib.util.find_spec("vllm") is not None):
        why = "no CUDA GPU is visible" if not gpu else "vllm is not installed (pip install 'evoforge[vllm]')"
        notices.append(
            f"--use_vllm: {why}; generating the Q&A and the evaluation with transformers instead (same prompts, "
            "sampling and seed; the run's config records use_vllm: false)"
        )
        overrides.append("self_evolve.use_vllm=false")
        vllm = False
    if settings.infer_gpu > 1 and not vllm:
        notices.append(f"--infer_gpu {settings.infer_gpu}: only vLLM generates on several GPUs; generating on one")
    if settings.cuda_device is not None and not gpu:
        notices.append(f"--cuda_device {settings.cuda_device}: no CUDA GPU is visible; training on the CPU")
    return overrides, notices
