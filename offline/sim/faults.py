"""Injected transport faults of the simulated LLM: a share of its provider calls answered with 429, 500 or 503.

Set ``EVOFORGE_SIM_FAULTS=RATE[:SEED]`` (e.g. ``0.2:7``) in the environment of the process that calls the ``sim/``
provider. Which attempt fails is a seeded draw per request and attempt: the k-th time this process sends the same
request, the draw is the same in every run with the same seed, whatever the order concurrent calls run in. The
faults live outside the request (as a flaky network does): they are not part of the response cache's key, so a
faulty run and a fault-free one ask the cache the same questions; a new process with another seed draws anew.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from random import Random
from typing import Any

from evoforge.errors import ConfigError

FAULTS_ENV = "EVOFORGE_SIM_FAULTS"
STATUSES = (429, 500, 503)


@dataclass
class Faults:
    """The fault rate and seed, and how often this process has sent each request."""

    rate: float = 0.0
    seed: int = 0
    _sent: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, value: str) -> Faults:
        """The faults a ``RATE[:SEED]`` value asks for (none when it is empty).

        Raises:
            ConfigError: the value is not ``RATE[:SEED]`` with a rate in [0, 1).
        """
        if not value:
            return cls()
        rate, _, seed = value.partition(":")
        try:
            faults = cls(float(rate), int(seed or 0))
        except ValueError:
            faults = cls(-1.0)
        if not 0.0 <= faults.rate < 1.0:
            raise ConfigError(f"{FAULTS_ENV}={value!r}: give RATE[:SEED], a rate in [0, 1) and an integer seed")
        return faults

    def status(self, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> int | None:
        """The HTTP status this attempt fails with (429, 500 or 503), or None when it is answered."""
        if self.rate <= 0.0:
            return None
        blob = json.dumps([model, messages, params.get("seed"), params.get("temperature")], sort_keys=True)
        key = hashlib.sha256(blob.encode("utf-8")).hexdigest()
        with self._lock:
            attempt = self._sent[key]
            self._sent[key] += 1
        rng = Random(f"{self.seed}|{key}|{attempt}")
        return rng.choice(STATUSES) if rng.random() < self.rate else None


_current: tuple[str, Faults] = ("", Faults())
_LOCK = threading.Lock()


def current() -> Faults:
    """The faults ``EVOFORGE_SIM_FAULTS`` asks for now (the same counters while the variable keeps its value)."""
    global _current
    value = os.environ.get(FAULTS_ENV, "").strip()
    with _LOCK:
        if value != _current[0]:
            _current = (value, Faults.parse(value))
        return _current[1]


def raise_fault(status: int, model: str) -> None:
    """Raise the LiteLLM error a provider answering ``status`` gives (what the gateway retries)."""
    import litellm

    errors = {429: litellm.RateLimitError, 500: litellm.InternalServerError, 503: litellm.ServiceUnavailableError}
    raise errors[status](message=f"injected fault {status} ({FAULTS_ENV})", llm_provider="sim", model=model)
