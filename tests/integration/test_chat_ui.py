"""The chat UI in a real browser: headless Chromium from Debian's packages, driven by Playwright (no browser
download), against the LMoE server on loopback: type a message, see the reply and the expert that answered."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from serve_helpers import tiny_lmoe

from evoforge.serve.api import create_app
from evoforge.serve.background import BackgroundServer
from evoforge.serve.chat_ui import ANSWERED_BY, build_chat_ui

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium; .ci/run does)")
def test_chat_in_the_browser_shows_the_reply_and_the_expert(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    lmoe = tiny_lmoe(tmp_path, routed_to="strings")
    with BackgroundServer(create_app(lmoe)) as server:
        ui = build_chat_ui(f"{server.url}/v1", identity="You are Evo.", max_tokens=6)
        port = free_port()
        ui.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}")
                page.locator("#message textarea").fill("Reverse the word 'hello'.")
                page.locator("#message textarea").press("Enter")
                expect(page.locator("#answered-by")).to_contain_text(f"{ANSWERED_BY}: strings", timeout=60_000)
                conversation = page.locator("#conversation")
                expect(conversation).to_contain_text("Reverse the word 'hello'.")
                assert len(conversation.inner_text()) > len("Reverse the word 'hello'.")
                browser.close()
        finally:
            ui.close()
