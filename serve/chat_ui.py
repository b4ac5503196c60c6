"""The chat UI (the data-efficient-training seed's ``chat_gradio.py``): multi-turn chat with an expert picker.

It talks to any OpenAI-compatible server — ``evoforge serve lmoe``, the in-process LMoE that ``evoforge chat``
starts on a loopback port, or ``vllm serve`` — so one code path fronts them all. The picker lists the server's
models (``auto`` first when served); under each answer the UI shows the expert that wrote it (the response's
``x-expert`` header, else its ``model``). The identity, when given, is the system prompt of every conversation.
Needs the ``ui`` extra (gradio).
"""

from __future__ import annotations

from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.identity import with_identity

ANSWERED_BY = "answered by"


def build_chat_ui(base_url: str, api_key: str = "unused", identity: str = "", max_tokens: int = 128) -> Any:
    """A gradio ``Blocks`` app chatting with the OpenAI-compatible server at ``base_url`` (ending in ``/v1``)."""
    try:
        import gradio as gr
    except ImportError:
        raise ConfigError("the chat UI needs gradio: pip install 'evoforge[ui]'") from None
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    try:
        models = [m.id for m in client.models.list()]
    except openai.APIError as error:
        raise ConfigError(f"cannot list the models of {base_url}: {error}") from None
    if not models:
        raise ConfigError(f"{base_url} serves no model")

    def reply(message: str, history: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], str, str]:
        turns = [
            {"role": t["role"], "content": _text(t["content"])} for t in history if t["role"] in ("user", "assistant")
        ]
        turns.append({"role": "user", "content": message})
        try:
            raw = client.chat.completions.with_raw_response.create(
                model=model,
                messages=with_identity(turns, identity),
                max_tokens=max_tokens,
                temperature=0,
            )
        except openai.APIError as error:
            return [*history, {"role": "user", "content": message}], "", f"error: {error}"
        answer = raw.parse()
        expert = raw.headers.get("x-expert") or answer.model
        text = answer.choices[0].message.content or ""
        history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": text}]
        return history, "", f"{ANSWERED_BY}: {expert}"

    with gr.Blocks(title="evoforge chat") as app:
        gr.Markdown("## evoforge chat")
        picker = gr.Dropdown(models, value=models[0], label="expert", elem_id="expert-picker")
        chat = gr.Chatbot(label="conversation", elem_id="conversation", height=420)
        expert = gr.Markdown("", elem_id="answered-by")
        box = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, elem_id="message")
        box.submit(reply, [box, chat, picker], [chat, box, expert])
        gr.Button("clear").click(lambda: ([], ""), None, [chat, expert])
    return app


def _text(content: Any) -> str:
    """A chat message's text (gradio may hand content back as a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
