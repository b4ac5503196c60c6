"""LLM gateway against a local OpenAI-compatible HTTP stub (``openai/<name>`` + ``api_base``): real HTTP faults."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from evoforge.errors import LLMError
from evoforge.llm.gateway import LLMGateway
from evoforge.runs import RunDir
from evoforge.settings import Config, LLMSettings, ModelEntry, RoleSettings

SECRET = "sk-stubtest-abcdef0123456789"
USER = [{"role": "user", "content": "Grade this."}]


class Grade(BaseModel):
    """A small schema for the structured-output round trip."""

    score: int


class Stub:
    """A scripted OpenAI-compatible chat server: each request pops a (status, answer) step; default 200 'ok'."""

    def __init__(self) -> None:
        self.script: list[tuple[int, str]] = []
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization")
                stub.requests.append({"body": body, "auth": auth, "t": time.monotonic()})
                status, text = stub.script.pop(0) if stub.script else (200, "ok")
                if status == 200:
                    payload: dict[str, Any] = {
                        "id": "chatcmpl-stub",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                    }
                else:
                    payload = {"error": {"message": text, "type": "stub_error", "code": str(status)}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0.3")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture(scope="module")
def stub() -> Iterator[Stub]:
    """One stub server for this module, reset per test by :func:`gateway`."""
    server = Stub()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture
def gateway(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> LLMGateway:
    """A gateway whose 'judge' role talks to the stub with a fake key from the environment."""
    stub.script.clear()
    stub.requests.clear()
    monkeypatch.setenv("STUB_API_KEY", SECRET)
    entry = ModelEntry(model="openai/stub-model", api_base=stub.url, api_key_env="STUB_API_KEY", timeout=10)
    settings = LLMSettings(
        models={"stub": entry}, roles={"judge": RoleSettings(model="stub")}, cache=False, retry_backoff=0.0
    )
    return LLMGateway(settings)


def test_429_and_500_are_retried_by_the_gateway_alone(gateway: LLMGateway, stub: Stub) -> None:
    stub.script = [(429, "slow down"), (429, "slow down"), (500, "boom"), (200, "graded")]
    assert asyncio.run(gateway.complete("judge", USER)) == "graded"
    assert len(stub.requests) == 4  # no hidden SDK retries on top of the gateway's
    # the second 429's Retry-After (0.3 s) is honoured: our backoff is 0 here (the first 429 warms LiteLLM up)
    assert stub.requests[2]["t"] - stub.requests[1]["t"] >= 0.3
    assert stub.requests[0]["auth"] == f"Bearer {SECRET}"
    usage = gateway.usage()["roles"]["judge"]
    assert (usage["retries"], usage["calls"], usage["tokens_in"], usage["tokens_out"]) == (3, 1, 7, 3)


@pytest.mark.parametrize("status", [401, 400, 404])
def test_client_errors_fail_fast_without_leaking_the_key(
    gateway: LLMGateway, stub: Stub, runs_dir: Path, status: int
) -> None:
    stub.script = [(status, f"Incorrect API key provided: {SECRET}")]
    gateway.run = RunDir.create(Config.model_validate({"run": {"runs_dir": str(runs_dir)}}), "test")
    with pytest.raises(LLMError) as error:
        asyncio.run(gateway.complete("judge", USER))
    gateway.close()
    assert len(stub.requests) == 1
    message = str(error.value)
    assert f"({status})" in message and "role 'judge'" in message and "openai/stub-model" in message
    written = (gateway.run.path / "events.jsonl").read_text() + json.dumps(gateway.run.manifest())
    assert SECRET not in message and SECRET not in written and SECRET not in json.dumps(gateway.usage())


def test_structured_over_http_takes_the_json_object_path(gateway: LLMGateway, stub: Stub) -> None:
    stub.script = [(200, "no json here"), (200, '{"score": 4}')]
    assert asyncio.run(gateway.structured("judge", USER, Grade)) == Grade(score=4)
    first, repair = (r["body"] for r in stub.requests)
    assert first["response_format"] == {"type": "json_object"}
    assert '"score"' in first["messages"][0]["content"] and first["seed"] == 0
    assert repair["messages"][-2] == {"role": "assistant", "content": "no json here"}
