"""airoboros' LMoE server command as its README writes it, paths pointed at local stand-ins: an LMoE package folder
(``adapters/<expert>/`` PEFT adapters with ``description.txt``, ``routing_data/expert_<expert>.jsonl``) over a tiny
Llama saved as ``./llama-2-7b-hf``; then the README's curl body verbatim, whose ``model`` is the base's folder
name, is routed by the embedding router, and airoboros' ``expert`` field and ``model: <expert>`` pick an expert."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from evoforge.testing.tiny_models import build_lora_adapter, build_tokenizer, save_random_llama

pytestmark = pytest.mark.slow
TOPICS = {
    "code": ["Write a Python function that {}.", "Fix the bug in this JavaScript code that {}."],
    "creative": ["Write a poem about {}.", "Compose a short story in which {}."],
    "qa": ["What is the capital city of {}?", "Who was the first person to explore {}?"],
}
SUBJECTS = ["sorts a list", "the sea", "France", "reverses a string", "autumn leaves", "the moon", "parses JSON",
            "a lonely robot", "Peru", "counts words", "winter", "Antarctica"]  # fmt: skip
CURL_BODY = {  # airoboros README's curl example, verbatim
    "model": "llama-2-7b-hf",
    "temperature": 0.7,
    "max_tokens": 2048,
    "messages": [
        {"role": "system", "content": "A chat."},
        {"role": "user", "content": "How much wood would a woodchuck chuck if a woodchuck could chuck wood?"},
    ],
}


def build_package(root: Path) -> None:
    """``root/llama-2-7b-hf`` (a tiny Llama with llama-2's 4096 context) and ``root/airoboros-lmoe-7b-2.1``."""
    base = root / "llama-2-7b-hf"
    tokenizer: object = build_tokenizer(base)
    ids = {key: getattr(tokenizer, f"{key}_token_id") for key in ("bos", "eos", "pad")}
    save_random_llama(base, 0, 64, 2, vocab_size=len(tokenizer), num_key_value_heads=2,  # type: ignore[arg-type]
                      max_position_embeddings=4096, **{f"{k}_token_id": v for k, v in ids.items()})  # fmt: skip
    package = root / "airoboros-lmoe-7b-2.1"
    (package / "routing_data").mkdir(parents=True)
    for seed, (expert, templates) in enumerate(TOPICS.items(), 1):
        adapter = build_lora_adapter(base, package / "adapters" / expert, seed=seed)
        (adapter / "description.txt").write_text(f"{expert} tasks\n")
        rows = [{"instruction": "A chat. " + t.format(s)} for t in templates for s in SUBJECTS]
        (package / "routing_data" / f"expert_{expert}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_readme_command_serves_a_package_and_routes_the_base_models_name(tmp_path: Path) -> None:
    build_package(tmp_path)
    port = free_port()
    command = ["serve", "lmoe", "--base-model", "./llama-2-7b-hf", "--lmoe", "./airoboros-lmoe-7b-2.1",
               "--router-max-samples", "1000", "--router-k", "25",
               "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200", "TOKENIZERS_PARALLELISM": "false"}
    server = subprocess.Popen([sys.executable, "-m", "evoforge.cli", *command], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the server did not start"
            try:
                models = httpx.get(f"{url}/models", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert [m["id"] for m in models["data"]] == ["auto", "code", "creative", "qa", "base", "llama-2-7b-hf"]
        routed = httpx.post(f"{url}/chat/completions", json=CURL_BODY, timeout=120)
        assert routed.status_code == 200, routed.text
        assert routed.headers["x-expert"] in TOPICS and routed.json()["expert"] == routed.headers["x-expert"]
        assert routed.json()["choices"][0]["message"]["role"] == "assistant"
        asks = {"Write a poem about the river.": "creative", "Write a Python function that adds.": "code",
                "What is the capital city of Chile?": "qa"}  # fmt: skip
        for ask, expert in asks.items():
            body = {**CURL_BODY, "max_tokens": 2, "messages": [{"role": "user", "content": ask}]}
            reply = httpx.post(f"{url}/chat/completions", json=body, timeout=60)
            assert reply.headers["x-expert"] == expert, (ask, reply.text)
        poem = {**CURL_BODY, "max_tokens": 2, "messages": [{"role": "user", "content": "Write a poem about the sea."}]}
        chosen = httpx.post(f"{url}/chat/completions", json={**poem, "expert": "qa"}, timeout=60)
        assert chosen.headers["x-expert"] == "qa"  # airoboros' expert field wins over routing
        named = httpx.post(f"{url}/chat/completions", json={**poem, "model": "code"}, timeout=60)
        assert named.headers["x-expert"] == "code" and named.json()["model"] == "code"
        unknown = httpx.post(f"{url}/chat/completions", json={**poem, "expert": "poetry"}, timeout=60)
        assert unknown.status_code == 404 and "expert 'poetry' does not exist" in unknown.text
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"LMoE at http://127.0.0.1:{port}/v1 serving auto, code, creative, qa, base, llama-2-7b-hf" in out
    print(out)
