"""The chat UI's conversation against the LMoE server on loopback: history trimmed to the model's context with a
visible notice, a JSONL log per conversation (through the real gradio app, driven by ``gradio_client``), and
``--share`` reaching gradio's tunnel (a stand-in ``frpc`` binary: no network)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from serve_helpers import tiny_lmoe

from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.chat_ui import ANSWERED_BY, DROPPED, build_chat_ui, serve_ui
from evoforge.serve.conversation import ChatLog, TooLong, answer
from evoforge.serve.lmoe import LMoE

CONTEXT = 160  # tokens: a few turns of the conversation below


@pytest.fixture(scope="module")
def lmoe(tmp_path_factory: pytest.TempPathFactory) -> LMoE:
    lmoe = tiny_lmoe(tmp_path_factory.mktemp("chat"))
    lmoe.engine.context = CONTEXT  # type: ignore[misc]
    return lmoe


@pytest.fixture(scope="module")
def url(lmoe: LMoE) -> Iterator[str]:
    with BackgroundServer(create_app(lmoe)) as server:
        yield f"{server.url}/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def history(turns: int) -> list[dict[str, str]]:
    out = []
    for n in range(turns):
        out += [{"role": "user", "content": f"Question {n}: what is {n} plus {n}?"},
                {"role": "assistant", "content": f"The answer is {n + n}. " * 3}]  # fmt: skip
    return out


def test_oldest_turns_are_dropped_until_the_prompt_fits(url: str, lmoe: LMoE) -> None:
    client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
    short = answer(client, "strings", [{"role": "user", "content": "Hi"}], max_tokens=4)
    assert short.dropped == 0 and short.expert == "strings"
    turns = [*history(8), {"role": "user", "content": "And 2 plus 2?"}]
    assert len(lmoe.engine.chat_prompt(turns)) + 4 > CONTEXT  # the whole conversation does not fit
    trimmed = answer(client, "strings", turns, max_tokens=4)
    assert trimmed.dropped > 0 and trimmed.dropped % 2 == 0 and trimmed.expert == "strings"
    kept = turns[trimmed.dropped :]
    assert (
        len(lmoe.engine.chat_prompt(kept)) + 4
        <= CONTEXT
        < len(lmoe.engine.chat_prompt(turns[trimmed.dropped - 2 :])) + 4
    )
    with pytest.raises(TooLong):
        answer(client, "strings", [{"role": "user", "content": "word " * 400}], max_tokens=4)


def test_the_ui_shows_dropped_turns_and_logs_each_conversation(url: str, tmp_path: Path) -> None:
    from gradio_client import Client

    log = ChatLog(tmp_path / "chats")
    ui = build_chat_ui(url, identity="You are Evo.", max_tokens=4, log=log)
    port = free_port()
    serve_ui(ui, "127.0.0.1", port, block=False)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        shown, box, notice = client.predict("Hello there", [], "strings", api_name="/reply")
        assert box == "" and notice == f"{ANSWERED_BY}: strings" and len(shown) == 2
        long_history = [{"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in history(8)]
        shown, _, notice = client.predict("And 2 plus 2?", long_history, "arithmetic", api_name="/reply")
        assert notice.startswith(f"{ANSWERED_BY}: arithmetic · ") and notice.endswith(DROPPED)
        assert len(shown) == len(long_history) + 2  # the UI still shows every turn
    finally:
        ui.close()
    [conversation] = sorted((tmp_path / "chats").glob("*.jsonl"))
    lines = [json.loads(line) for line in conversation.read_text().splitlines()]
    assert [(r["user"], r["expert"]) for r in lines] == [("Hello there", "strings"), ("And 2 plus 2?", "arithmetic")]
    assert lines[0]["dropped_turns"] == 0 < lines[1]["dropped_turns"]
    assert lines[1]["assistant"].strip() in str(shown[-1]["content"]) and lines[0]["client"] == "127.0.0.1"


def test_share_reaches_gradios_tunnel(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gradio.networking
    import gradio.tunneling

    frpc = tmp_path / "frpc"  # stands in for gradio's tunnel binary: records its arguments, prints a public URL
    frpc.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\necho "start proxy success: https://evo.gradio.live"\n')
    frpc.chmod(0o755)
    monkeypatch.setattr(gradio.tunneling, "BINARY_PATH", str(frpc))
    monkeypatch.setattr(gradio.networking, "GRADIO_SHARE_SERVER_ADDRESS", "127.0.0.1:9")
    ui = build_chat_ui(url, max_tokens=4)
    port = free_port()
    try:
        assert serve_ui(ui, "127.0.0.1", port, share=True, block=False) == "https://evo.gradio.live"
        assert f"-l {port} -i 127.0.0.1" in (tmp_path / "args").read_text()
    finally:
        ui.close()
    local = build_chat_ui(url, max_tokens=4)
    try:
        assert serve_ui(local, "127.0.0.1", free_port(), block=False) is None
    finally:
        local.close()


def test_the_assistant_drops_the_oldest_turns_past_its_context(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from evoforge.serve import Assistant
    from evoforge.testing.tiny_models import build_tiny_lm

    assistant = Assistant(build_tiny_lm(tmp_path / "base"), identity_file=None, device="cpu", max_new_tokens=4,
                          max_context=CONTEXT)  # fmt: skip
    turns = [{"role": "system", "content": "Be brief."}, *history(8), {"role": "user", "content": "And 2 plus 2?"}]
    with caplog.at_level("WARNING", logger="evoforge.serve"):
        [long], _ = assistant.inference([{"messages": turns}])
    [warning] = [r.getMessage() for r in caplog.records]
    dropped = int(warning.split(": ")[1].split()[0])
    assert dropped > 0 and warning.endswith(f"left out to fit {CONTEXT} tokens")
    [short], _ = assistant.inference([{"messages": [turns[0], *turns[1 + dropped :]]}])
    assert long == short  # the same prompt: the system message kept, the oldest turns gone
