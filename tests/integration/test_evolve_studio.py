"""The Studio export: langgraph.json names the evolve and cycle graphs, compiled without a checkpointer, and
`langgraph dev` serves them: an evolve thread stops at both human checkpoints and resumes to the end (slow)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = "evolve: {train_size: 4, dev_size: 6, batch_size: 3, max_steps: 1, loop: 1, candidate_size: 2}\n"


def test_langgraph_json_exports_the_evolve_graph_without_a_checkpointer() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    file, attr = spec["graphs"]["evolve"].split(":")
    assert (ROOT / file).is_file() and attr == "graph"
    from evoforge.graphs.evolve.graph import graph

    assert graph.checkpointer is None
    assert {"review_method", "review_dataset", "optimize_candidate", "write_outputs"} <= set(graph.nodes)
    schema = graph.get_context_jsonschema()
    assert schema is not None and all("default" in p for p in schema["properties"].values())


def test_langgraph_json_exports_the_cycle_graph_without_a_checkpointer() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    file, attr = spec["graphs"]["cycle"].split(":")
    assert (ROOT / file).is_file() and attr == "graph"
    from evoforge.graphs.cycle.graph import graph

    assert graph.checkpointer is None
    assert {"evolve", "train_delta", "merge", "review_promotion", "feedback"} <= set(graph.nodes)
    edges = {(e.source, e.target) for e in graph.get_graph().edges}
    assert {("chunk", "train_delta"), ("train_delta", "merge"), ("feedback", "prepare_round")} <= edges


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_langgraph_dev_serves_the_evolve_graph(tmp_path: Path) -> None:
    exe = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip('the studio extra is not installed (pip install "langgraph-cli[inmem]")')
    port = _free_port()
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen(
        [exe, "dev", "--no-browser", "--no-reload", "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        assistants: list[dict] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not assistants:
            time.sleep(1)
            try:
                assistants = httpx.post(f"{base}/assistants/search", json={}, timeout=5).json()
            except httpx.HTTPError:
                continue
        ids = sorted(a["graph_id"] for a in assistants)
        assert ids == ["cycle", "evolve", "instruct", "self_evolve"], (tmp_path / "dev.log").read_text()[-2000:]
        evolve = next(a for a in assistants if a["graph_id"] == "evolve")
        schemas = httpx.get(f"{base}/assistants/{evolve['assistant_id']}/schemas", timeout=10).json()
        assert set(schemas["context_schema"]["properties"]) == {"config_path", "run_dir"}  # no live objects

        config = tmp_path / "small.yaml"  # a thread runs to each human checkpoint and resumes from it
        config.write_text(f"run: {{runs_dir: '{tmp_path / 'runs'}'}}\nworld: {{n_seeds: 16}}\n" + TINY)
        thread = httpx.post(f"{base}/threads", json={}, timeout=10).json()["thread_id"]
        body = {"assistant_id": "evolve", "context": {"config_path": str(config)}}
        checkpoints = []
        for request in (
            {"input": {}},
            {"command": {"resume": {"action": "approve"}}},
            {"command": {"resume": "approve"}},
        ):
            httpx.post(f"{base}/threads/{thread}/runs/wait", json={**body, **request}, timeout=240).raise_for_status()
            state = httpx.get(f"{base}/threads/{thread}/state", timeout=10).json()
            checkpoints.append([i["value"]["checkpoint"] for i in state.get("interrupts") or []])
        assert checkpoints == [["review_method"], ["review_dataset"], []]
        assert state["values"]["outputs"]["dataset"] == "evolved.jsonl"
        assert (tmp_path / "runs" / f"studio-{thread}" / "evolved.jsonl").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
