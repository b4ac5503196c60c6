"""Answers to the human checkpoints: parsing a reviewer's answer, the headless policy, and the terminal review.

A checkpoint's payload says what to review (``checkpoint``: review_method or review_dataset) and which
``actions`` are allowed. An answer is ``{"action": "approve"|"edit"|"reject", "method": ...}`` or just the
action's name (handy in LangGraph Studio).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Literal, TypedDict

from evoforge.errors import ConfigError

ACTIONS = ("approve", "edit", "reject")


class Decision(TypedDict, total=False):
    """A reviewer's answer to a human checkpoint.

    Attributes:
        action: approve, edit (method review only) or reject.
        method: the edited method text when ``action`` is edit.
        by: who decided (``policy``, ``terminal``, ``cli``, ``studio``).
    """

    action: Literal["approve", "edit", "reject"]
    method: str
    by: str


def parse_decision(answer: Any, allow_edit: bool) -> Decision:
    """Validate a reviewer's answer; an edit must carry the non-empty edited method."""
    if isinstance(answer, str):
        answer = {"action": answer.strip().lower()}
    if not isinstance(answer, dict) or answer.get("action") not in ACTIONS:
        raise ConfigError(f"a review answer must be one of {', '.join(ACTIONS)} (as {{'action': ...}}); got {answer!r}")
    action = answer["action"]
    decision: Decision = {"action": action, "by": str(answer.get("by") or "reviewer")}
    if action == "edit":
        if not allow_edit:
            raise ConfigError("this checkpoint can only be approved or rejected")
        method = str(answer.get("method") or "").strip()
        if not method:
            raise ConfigError("an 'edit' answer needs the edited method text in 'method'")
        decision["method"] = method
    return decision


def policy_decision(payload: dict[str, Any]) -> Decision:
    """Headless runs decide by policy (``--auto-approve`` / ``run.auto_approve``): the checkpoint's
    ``recommended`` action when it names one (e.g. reject promoting a merge that scores below the student),
    otherwise approve."""
    action = payload.get("recommended", "approve")
    return {"action": action if action in ACTIONS else "approve", "by": "policy"}


def edit_text(text: str, suffix: str = ".md") -> str:
    """Open ``text`` in ``$VISUAL``/``$EDITOR`` (default ``vi``) and return what the reviewer saved."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"method{suffix}"
        path.write_text(text, encoding="utf-8")
        subprocess.run([*shlex.split(editor), str(path)], check=True)
        return path.read_text(encoding="utf-8")


def show(payload: dict[str, Any]) -> None:
    """Print what a checkpoint asks to review."""
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    from evoforge.console import console

    if payload.get("checkpoint") == "review_method":
        history = Table("step", "best candidate λ", "selected", "selected λ", title="failure rate per step")
        for point in payload.get("history") or []:
            history.add_row(
                str(point["step"]),
                f"{point['best_candidate_rate']:.3f}",
                point["selected"],
                f"{point['selected_rate']:.3f}",
            )
        console.print(history)
        rate = payload.get("failure_rate")
        title = f"method {payload.get('method_id')} (dev λ = {rate:.3f})" if rate is not None else "method"
        console.print(Panel(escape(str(payload.get("method", ""))), title=title))
    elif payload.get("checkpoint") == "promote_merge":
        scores = Table("model", "held-out", "test", title=f"round {payload.get('round')} results")
        test = payload.get("test") or {}
        for name, score in (payload.get("scores") or {}).items():
            scores.add_row(name, f"{score:.3f}", f"{test[name]:.3f}" if name in test else "")
        console.print(scores)
        console.print("auto_merge weights: " + json.dumps(payload.get("weights") or {}))
        console.print(f"policy recommends: {payload.get('recommended', 'approve')}")
    else:
        console.print("counts: " + json.dumps(payload.get("counts") or {}))
        for row in payload.get("sample") or []:
            body = f"[bold]{escape(str(row.get('instruction')))}[/bold]\n→ {escape(str(row.get('response')))}"
            console.print(Panel(body, title=f"{row.get('category')} · generation {row.get('generation')}"))
    console.print(f"[bold]{escape(str(payload.get('question', '')))}[/bold]")


def ask_terminal(payload: dict[str, Any]) -> Decision:
    """Ask the reviewer in the terminal: approve, edit in ``$EDITOR`` (method review only), or reject."""
    import typer

    show(payload)
    allowed = list(payload.get("actions") or ["approve", "reject"])
    while True:
        choice = typer.prompt(" / ".join(allowed), default="approve").strip().lower()
        action = next((a for a in allowed if a.startswith(choice)), None) if choice else None
        if action == "edit":
            method = edit_text(str(payload.get("method", ""))).strip()
            if not method:
                typer.echo("the edited method is empty; choose again")
                continue
            return {"action": "edit", "method": method, "by": "terminal"}
        if action is not None:
            return {"action": action, "by": "terminal"}
        typer.echo(f"please answer one of: {', '.join(allowed)}")
