"""The chat UI (the data-efficient-training seed's ``chat_gradio.py``): multi-turn chat with an expert picker.

It talks to any OpenAI-compatible server — ``evoforge serve lmoe``, the in-process LMoE that ``evoforge chat``
starts on a loopback port, or ``vllm serve`` — so one code path fronts them all. The picker lists the server's
models (``auto`` first when served); under each answer the UI shows the expert that wrote it (the response's
``x-expert`` header, else its ``model``), and how many earlier turns were left out when the conversation outgrew
the model's context (:mod:`evoforge.serve.conversation`). The identity, when given, is the system prompt of every
conversation; with a :class:`~evoforge.serve.conversation.ChatLog` each conversation is logged to its own JSONL
file. Needs the ``ui`` extra (gradio).
"""

from __future__ import annotations

from typing import Any

from evoforge.errors import ConfigError
from evoforge.serve.conversation import ChatLog, TooLong, answer

ANSWERED_BY = "answered by"
DROPPED = "earlier turn(s) left out to fit the model's context"


def build_chat_ui(
    base_url: str, api_key: str = "unused", identity: str = "", max_tokens: int = 128, log: ChatLog | None = None
) -> Any:
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

    def reply(
        message: str, history: list[dict[str, Any]], model: str, conversation: str | None, request: gr.Request
    ) -> tuple[list[dict[str, Any]], str, str, str | None]:
        turns = [
            {"role": t["role"], "content": _text(t["content"])} for t in history if t["role"] in ("user", "assistant")
        ]
        asked = [*history, {"role": "user", "content": message}]
        try:
            got = answer(client, model, [*turns, {"role": "user", "content": message}], identity=identity,
                         max_tokens=max_tokens)  # fmt: skip
        except TooLong:
            return history, message, "error: this message alone is longer than the model's context", conversation
        except openai.APIError as error:
            return asked, "", f"error: {error}", conversation
        if log is not None:
            conversation = conversation or log.new()
            log.write(conversation, getattr(request.client, "host", "") or "", model, message, got)
        notice = f"{ANSWERED_BY}: {got.expert}" + (f" · {got.dropped} {DROPPED}" if got.dropped else "")
        return [*asked, {"role": "assistant", "content": got.text}], "", notice, conversation

    reply.__annotations__["request"] = gr.Request  # gradio passes the request to a parameter typed gr.Request

    with gr.Blocks(title="evoforge chat") as app:
        gr.Markdown("## evoforge chat")
        picker = gr.Dropdown(models, value=models[0], label="expert", elem_id="expert-picker")
        chat = gr.Chatbot(label="conversation", elem_id="conversation", height=420)
        expert = gr.Markdown("", elem_id="answered-by")
        box = gr.Textbox(placeholder="Type a message and press Enter", show_label=False, elem_id="message")
        conversation = gr.State(None)  # this browser session's conversation id in the chat log
        box.submit(reply, [box, chat, picker, conversation], [chat, box, expert, conversation])
        gr.Button("clear").click(lambda: ([], "", None), None, [chat, expert, conversation])
    return app


def serve_ui(app: Any, host: str, port: int, *, share: bool = False, block: bool = True) -> str | None:
    """Start ``app`` at http://HOST:PORT, with gradio's public share link when ``share`` (its URL, None when gradio
    could not create one: gradio says why); ``block=False`` returns once it is up."""
    app.launch(server_name=host, server_port=port, share=share, quiet=True, prevent_thread_lock=not block)
    return getattr(app, "share_url", None)


def _text(content: Any) -> str:
    """A chat message's text (gradio may hand content back as a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)
