"""The OpenAI files and batches endpoints of the simulated LLM's server (``/v1/files``, ``/v1/batches``).

A batch is answered line by line by the same function as ``/v1/chat/completions``. It completes ``delay`` seconds
after it was created (its ``request_counts.completed`` grows with the time waited, so a client can show progress);
a share ``failures`` of its requests fails with a 500 in the error file — each ``custom_id`` only the first time
it is sent, so the request succeeds when sent again. The server counts the batches created (``GET /v1/batches``
lists them), so a test can tell that nothing was submitted twice. ``EVOFORGE_SIM_BATCH_DELAY`` and
``EVOFORGE_SIM_BATCH_FAILURES`` in the server's environment set both for ``evoforge serve sim``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Form, UploadFile
from fastapi.responses import JSONResponse, Response

# (status, body): the chat-completions answer to one request body
Answer = Callable[[dict[str, Any]], "tuple[int, dict[str, Any]]"]
DELAY_ENV = "EVOFORGE_SIM_BATCH_DELAY"
FAILURES_ENV = "EVOFORGE_SIM_BATCH_FAILURES"


@dataclass
class BatchOptions:
    """How the simulated batches behave: seconds until a batch completes, and the share of requests that fail."""

    delay: float = 0.0
    failures: float = 0.0

    @classmethod
    def from_env(cls) -> BatchOptions:
        """The options :data:`DELAY_ENV` and :data:`FAILURES_ENV` set (0 where unset)."""
        return cls(float(os.environ.get(DELAY_ENV) or 0.0), float(os.environ.get(FAILURES_ENV) or 0.0))


@dataclass
class _Store:
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_once: set[str] = field(default_factory=set)


def _file_object(file_id: str, content: bytes, purpose: str, name: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(content),
        "created_at": int(time.time()),
        "filename": name,
        "purpose": purpose,
        "status": "processed",
    }


def _fails(custom_id: str, share: float) -> bool:
    """Whether ``custom_id`` is one of the requests a batch fails (a fixed draw per id)."""
    draw = int(hashlib.sha256(custom_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return draw < share


def _finish(store: _Store, batch: dict[str, Any], answer: Answer, options: BatchOptions) -> None:
    """Answer every request of ``batch``'s input file into its output and error files; mark it completed."""
    out: list[str] = []
    errors: list[str] = []
    for line in store.files[batch["input_file_id"]].decode().splitlines():
        if not line.strip():
            continue
        request = json.loads(line)
        custom_id = str(request["custom_id"])
        status, body = answer(request["body"])
        if status == 200 and custom_id not in store.failed_once and _fails(custom_id, options.failures):
            store.failed_once.add(custom_id)
            status, body = 500, {"error": {"message": "simulated batch failure", "type": "server_error"}}
        response = {"status_code": status, "request_id": uuid.uuid4().hex, "body": body}
        row = {"id": f"batch_req_{uuid.uuid4().hex}", "custom_id": custom_id, "response": response, "error": None}
        (out if status == 200 else errors).append(json.dumps(row))
    for name, lines in (("output_file_id", out), ("error_file_id", errors)):
        if lines:
            batch[name] = f"file-{uuid.uuid4().hex}"
            store.files[batch[name]] = ("\n".join(lines) + "\n").encode()
    batch.update(status="completed", completed_at=int(time.time()))
    batch["request_counts"] = {"total": len(out) + len(errors), "completed": len(out), "failed": len(errors)}


def add_batch_routes(app: FastAPI, answer: Answer, options: BatchOptions | None = None) -> None:
    """Serve the files and batches endpoints on ``app``, answering each request with ``answer``."""
    settings = options or BatchOptions.from_env()
    store = _Store()

    @app.post("/v1/files")
    async def create_file(file: UploadFile, purpose: str = Form("batch")) -> dict[str, Any]:
        content = await file.read()
        file_id = f"file-{uuid.uuid4().hex}"
        store.files[file_id] = content
        return _file_object(file_id, content, purpose, file.filename or "input.jsonl")

    @app.get("/v1/files/{file_id}/content", response_model=None)
    async def file_content(file_id: str) -> Response:
        if file_id not in store.files:
            return JSONResponse(status_code=404, content={"error": {"message": f"no file {file_id}"}})
        return Response(store.files[file_id], media_type="application/octet-stream")

    @app.post("/v1/batches")
    async def create_batch(request: dict[str, Any]) -> dict[str, Any]:
        lines = [line for line in store.files[request["input_file_id"]].splitlines() if line.strip()]
        batch = {
            "id": f"batch_{uuid.uuid4().hex}",
            "object": "batch",
            "endpoint": request.get("endpoint", "/v1/chat/completions"),
            "input_file_id": request["input_file_id"],
            "completion_window": request.get("completion_window", "24h"),
            "status": "in_progress",
            "created_at": int(time.time()),
            "metadata": request.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "_started": time.monotonic(),
        }
        store.batches[batch["id"]] = batch
        return _public(batch)

    @app.get("/v1/batches/{batch_id}", response_model=None)
    async def retrieve_batch(batch_id: str) -> dict[str, Any] | JSONResponse:
        batch = store.batches.get(batch_id)
        if batch is None:
            return JSONResponse(status_code=404, content={"error": {"message": f"no batch {batch_id}"}})
        if batch["status"] == "in_progress":
            waited = time.monotonic() - batch["_started"]
            if waited >= settings.delay:
                _finish(store, batch, answer, settings)
            else:
                total = batch["request_counts"]["total"]
                batch["request_counts"]["completed"] = int(total * waited / settings.delay)
        return _public(batch)

    @app.get("/v1/batches")
    async def list_batches() -> dict[str, Any]:
        return {"object": "list", "data": [_public(b) for b in store.batches.values()], "has_more": False}


def _public(batch: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in batch.items() if not key.startswith("_")}
