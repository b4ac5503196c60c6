"""The shared response cache: where its file is, and two processes writing it at once."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import platformdirs
import pytest

from evoforge.llm.cache import CACHE_DIR_ENV, ResponseCache, response_cache_path
from evoforge.settings import LLMSettings, load_config

WRITER = """
import sys, time
from pathlib import Path
from evoforge.llm.cache import CachedResponse, ResponseCache

path, name, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
while time.time() < start:  # both writers start together
    time.sleep(0.001)
cache = ResponseCache(path)
for i in range(200):
    key = f"shared-{i}" if i % 2 else f"{name}-{i}"
    cache.put(key, CachedResponse(text=f"{name} {i}", model="m", tokens_in=1, tokens_out=1, cost_usd=0.0))
    assert cache.get(key) is not None
cache.close()
"""


def test_default_is_llm_responses_under_the_user_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV)
    monkeypatch.delenv("EVOFORGE_CACHE_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / "user-cache" / name))
    assert response_cache_path(LLMSettings()) == tmp_path / "user-cache" / "evoforge" / "llm" / "responses.sqlite"
    monkeypatch.setenv("EVOFORGE_CACHE_DIR", str(tmp_path / "evoforge-cache"))  # moves it with the student cache
    assert response_cache_path(LLMSettings()) == tmp_path / "evoforge-cache" / "llm" / "responses.sqlite"


def test_the_config_key_wins_over_the_variable_and_off_means_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "env"))
    assert response_cache_path(LLMSettings()) == tmp_path / "env" / "responses.sqlite"
    config = load_config(None, [f"llm.cache_dir={tmp_path / 'config'}"])
    assert response_cache_path(config.llm) == tmp_path / "config" / "responses.sqlite"
    assert response_cache_path(load_config(None, ["llm.cache=false"]).llm) is None


def test_the_env_var_of_the_test_fixture_keeps_tests_off_the_users_cache(llm_cache_dir: Path) -> None:
    assert response_cache_path(LLMSettings()) == llm_cache_dir / "responses.sqlite"


def test_two_processes_write_one_cache_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "responses.sqlite"
    start = str(time.time() + 3.0)  # after both interpreters have imported evoforge
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, start], stderr=subprocess.PIPE, text=True)
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    cache = ResponseCache(path)
    assert len(cache) == 100 + 100 + 100  # each process's own keys, and the shared keys once
    own = [cache.get(f"{name}-{i}") for name in ("a", "b") for i in range(0, 200, 2)]
    assert [r.text if r else None for r in own] == [f"{name} {i}" for name in ("a", "b") for i in range(0, 200, 2)]
    shared = cache.get("shared-1")
    assert shared is not None and shared.text in {"a 1", "b 1"}
    cache.close()


def test_the_simulated_llms_cached_answers_change_with_its_code(tmp_path: Path) -> None:
    import asyncio

    from evoforge.llm.gateway import LLMGateway
    from evoforge.offline.sim import get_handler

    settings = load_config(None, []).llm
    messages = [{"role": "user", "content": "Reverse the word 'cache'."}]
    with LLMGateway(settings, cache_path=tmp_path / "responses.sqlite") as gw:
        asyncio.run(gw.complete("generator", messages))
        asyncio.run(gw.complete("generator", messages))
        handler = get_handler()
        current = handler.revision
        try:
            handler.revision = "edited-simulator"  # as after an edit of offline/sim or offline/world
            asyncio.run(gw.complete("generator", messages))
        finally:
            handler.revision = current
        total = gw.usage()["total"]
    assert (total["calls"], total["cache_hits"]) == (2, 1)


def test_the_simulated_llm_is_published_with_its_revision_to_every_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import evoforge.offline.sim as sim

    monkeypatch.setattr(sim, "_handler", None)  # as in a fresh process: the first calls race to build it
    with ThreadPoolExecutor(8) as pool:
        handlers = list(pool.map(lambda _: sim.get_handler(), range(32)))
    assert len({id(h) for h in handlers}) == 1
    assert all(getattr(h, "revision", None) for h in handlers)  # no call may be keyed without the revision
