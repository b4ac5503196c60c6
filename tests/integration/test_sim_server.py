"""The simulated LLM over HTTP: agents reach it as an OpenAI-compatible server (``openai/<name>`` + api_base)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from evoforge.agents import analyzer, evolver, generator, judge, optimizer, validator
from evoforge.agents.evolving_method import INITIAL_METHOD
from evoforge.llm.gateway import LLMGateway
from evoforge.offline.server import create_app
from evoforge.offline.sim import SimOptions
from evoforge.offline.world import generate_tasks, parse_instruction
from evoforge.settings import LLMSettings, ModelEntry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A running server; yields its base URL (``http://127.0.0.1:PORT/v1``)."""
    port = _free_port()
    config = uvicorn.Config(create_app(SimOptions(latency=0.01)), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/v1"
    srv.should_exit = True
    thread.join(timeout=10)


def test_models_and_errors(server: str) -> None:
    models = httpx.get(f"{server}/models").json()
    assert [m["id"] for m in models["data"]] == ["skills"]
    body = {"model": "nope", "messages": [{"role": "user", "content": "Compute 1 + 2."}]}
    assert httpx.post(f"{server}/chat/completions", json=body).status_code == 404
    body["model"] = "skills"
    reply = httpx.post(f"{server}/chat/completions", json=body).json()
    assert reply["choices"][0]["message"]["content"] == "3"
    assert reply["usage"]["total_tokens"] == reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
    json_mode = {**body, "response_format": {"type": "json_object"}}
    content = httpx.post(f"{server}/chat/completions", json=json_mode).json()["choices"][0]["message"]["content"]
    assert content == '{"response": "3"}'


def test_agents_through_the_http_server(server: str) -> None:
    entry = ModelEntry(model="openai/skills", api_base=server)
    gw = LLMGateway(LLMSettings(cache=False, models={"sim": entry}))
    tasks = generate_tasks(8, seed=21)

    async def run() -> None:
        evolved = await asyncio.gather(
            *(evolver.evolve(gw, evolver.EvolveInput(instruction=t.instruction, method=INITIAL_METHOD)) for t in tasks)
        )
        answers = await asyncio.gather(
            *(generator.answer(gw, generator.AnswerInput(instruction=e.instruction)) for e in evolved)
        )
        for e, a in zip(evolved, answers, strict=True):
            task = parse_instruction(e.instruction)
            if task is not None:
                assert a.response == task.answer
            else:  # a failed evolution: the rules catch it
                assert validator.failure_reason(a.response) or validator.eliminate("", e.instruction, a.response)
        cases = [
            analyzer.Trajectory(case_id=str(i), stages=[t.instruction, t.instruction]) for i, t in enumerate(tasks)
        ]
        analysis = await analyzer.analyze(gw, analyzer.AnalyzeInput(trajectories=cases))
        assert analysis.result == "failure" and len(analysis.reasons) >= len(tasks) - 3  # sampled: may overlook one
        assert all("unchanged" in reason for reason in analysis.reasons.values())
        revised = await optimizer.optimize(
            gw, optimizer.OptimizeInput(method=INITIAL_METHOD, feedback=analysis.feedback)
        )
        assert revised.method.startswith("You are an Instruction Rewriter")
        grade = await judge.grade(gw, judge.GradeInput(instruction=tasks[0].instruction, answer=tasks[0].answer))
        assert grade.score == 10
        pick = await judge.compare(
            gw, judge.CompareInput(instruction=tasks[0].instruction, answer_a=tasks[0].answer, answer_b="?")
        )
        assert pick.winner == "A"

    asyncio.run(run())
    usage = gw.usage()["total"]
    assert usage["calls"] == 2 * len(tasks) + 4 and usage["tokens_out"] > 0
