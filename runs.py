"""Run directories: ``runs/<run-id>/`` holds everything a run writes.

A run directory has ``config.yaml`` (resolved, no secrets), ``manifest.json`` (versions, seed, times,
status, LLM usage), ``events.jsonl`` (structured progress) and the artefacts of each step. Data files are
written atomically (temporary name, then rename) so a crash never leaves a half-written file.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evoforge import __version__
from evoforge.console import info
from evoforge.errors import RunDirError
from evoforge.settings import Config, redact

RUN_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def now_iso() -> str:
    """The current UTC time, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_run_id(prefix: str = "run") -> str:
    """A sortable, unique run id such as ``run-20261121-132045-a1b2``."""
    return f"{prefix}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def atomic_write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines, atomically; returns the number of records written."""
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in records]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "evoforge": __version__}
    for name in ("langgraph", "litellm", "torch", "transformers", "peft", "trl", "optuna", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


class RunDir:
    """One run's directory and its manifest, events and atomic writers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.name

    # -- creation -------------------------------------------------------------------------------------
    @classmethod
    def create(cls, config: Config, command: str, run_id: str | None = None) -> RunDir:
        """Create a fresh run directory; refuses an id that exists (use :meth:`open` to resume)."""
        run_id = run_id or new_run_id(command)
        if not set(run_id) <= RUN_ID_CHARS or run_id.startswith("."):
            raise RunDirError(f"run id '{run_id}' may use only letters, digits, '-', '_' and '.'")
        path = config.run.runs_dir / run_id
        if path.exists():
            raise RunDirError(
                f"run '{run_id}' already exists in {config.run.runs_dir}; "
                f"use `evoforge resume {run_id}` or choose another --run-id"
            )
        path.mkdir(parents=True)
        run = cls(path)
        atomic_write_text(path / "config.yaml", redact(config.to_yaml()))
        run.write_manifest(
            {
                "run_id": run_id,
                "command": command,
                "argv": [redact(a) for a in sys.argv],
                "status": "running",
                "seed": config.run.seed,
                "started": now_iso(),
                "ended": None,
                "versions": _versions(),
            }
        )
        run.event("run_started", command=command)
        return run

    @classmethod
    def open(cls, runs_dir: Path, run_id: str) -> RunDir:
        """Open an existing run directory (for resume or inspection)."""
        path = runs_dir / run_id
        if not (path / "manifest.json").is_file():
            raise RunDirError(f"no run '{run_id}' in {runs_dir} (see `evoforge runs list`)")
        return cls(path)

    # -- manifest and events -------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        """Path of ``manifest.json``."""
        return self.path / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        """The run's manifest as a dict."""
        data: dict[str, Any] = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        return data

    def write_manifest(self, data: dict[str, Any]) -> None:
        """Replace the manifest atomically."""
        atomic_write_text(self.manifest_path, redact(json.dumps(data, indent=2, default=str)) + "\n")

    def update_manifest(self, **fields: Any) -> None:
        """Merge ``fields`` into the manifest."""
        data = self.manifest()
        data.update(fields)
        self.write_manifest(data)

    def finish(self, status: str, **fields: Any) -> None:
        """Mark the run ended with ``status`` (completed, failed, interrupted, ...)."""
        self.update_manifest(status=status, ended=now_iso(), **fields)
        self.event("run_finished", status=status)

    @contextmanager
    def recording(self, interrupted_hint: str = "") -> Iterator[RunDir]:
        """The run's lifecycle around a command's work: an exception inside ends the run ``failed`` (Ctrl-C:
        ``interrupted``, with ``interrupted_hint`` printed) with the error in the manifest, and propagates.

        The block ends the run itself on success (``finish("completed", ...)``), or leaves the status it set
        (``awaiting_review``) for a run that waits at a human checkpoint.
        """
        try:
            yield self
        except BaseException as exc:
            interrupted = isinstance(exc, KeyboardInterrupt)
            self.finish("interrupted" if interrupted else "failed", error=f"{type(exc).__name__}: {exc}"[:500])
            if interrupted and interrupted_hint:
                info(interrupted_hint)
            raise

    def event(self, kind: str, **data: Any) -> None:
        """Append one structured event to ``events.jsonl`` (secrets redacted)."""
        record = {"time": now_iso(), "t": round(time.time(), 3), "event": kind, **data}
        line = redact(json.dumps(record, ensure_ascii=False, default=str))
        with (self.path / "events.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def config(self) -> Config:
        """The run's resolved configuration, as snapshotted."""
        from evoforge.settings import load_config

        return load_config(self.path / "config.yaml")

    def file(self, *parts: str) -> Path:
        """A path inside the run directory (parent folders created)."""
        path = self.path.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """Manifests of every run under ``runs_dir``, newest first."""
    if not runs_dir.is_dir():
        return []
    out = []
    for child in runs_dir.iterdir():
        manifest = child / "manifest.json"
        if manifest.is_file():
            try:
                out.append(json.loads(manifest.read_text(encoding="utf-8")))
            except json.JSONDecodeError:
                out.append({"run_id": child.name, "status": "unreadable manifest"})
    return sorted(out, key=lambda m: str(m.get("started") or ""), reverse=True)
