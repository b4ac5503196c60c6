"""The run-state database: PostgreSQL when ``run.database_url_env`` names a variable that holds its URL.

With it, the LangGraph checkpoints of every run, the Optuna study of every merge search, the LLM response cache and
the per-model LLM limits live in one PostgreSQL database, so that a run started on one machine resumes on another
that sees the same database and the same run directory. Without it (the default) each run keeps SQLite files in
its run directory and the response cache is the shared SQLite file.

A run id is a key there (the run's checkpoint thread, its studies ``<run-id>/...``), so a run that starts claims
its id in the table ``evoforge_runs`` (:func:`run_claim`), and a second run with an id the database already holds
state for is refused: ``evoforge resume`` is the way to continue a run.

The URL is read from the environment when it is needed and never written anywhere: a config names the variable,
as ``api_key_env`` does for a key. Messages about it name the setting and the variable and show the URL with its
password replaced (:func:`safe_url`).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError, RunDirError, import_extra

if TYPE_CHECKING:
    from evoforge.settings import RunSettings

SETTING = "run.database_url_env"
SCHEMES = ("postgresql", "postgres")
ENV_PREFIX = "env:"  # a storage string ``env:NAME`` means "the database URL held by the variable NAME"
_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")
RUNS_TABLE = "evoforge_runs"
_SETUP_LOCK = 0x65766F66  # the advisory lock held while tables are created ("evof")


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    return _PASSWORD.sub(r"\1***\3", url)


def url_from_env(name: str, setting: str = SETTING) -> str:
    """The PostgreSQL URL held by the environment variable ``name`` (``setting`` names where it was configured).

    Raises:
        ConfigError: the variable is unset or empty, or does not hold a ``postgresql://`` URL (the message names
            the setting and the variable, never the value).
    """
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{setting} names the environment variable {name}, which is not set")
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme.split("+", 1)[0] not in SCHEMES:
        shown = f"scheme '{scheme}'" if scheme else "no scheme"
        raise ConfigError(
            f"{setting}: ${name} must hold a PostgreSQL URL (postgresql://user@host:port/db), got {shown}"
        )
    return value


def database_url(settings: RunSettings) -> str | None:
    """The run-state database URL of the ``run`` section, or None for SQLite in the run directory."""
    return url_from_env(settings.database_url_env) if settings.database_url_env else None


def database_ref(settings: RunSettings) -> str | None:
    """The database as a reference that may be written down (``env:NAME``), or None for SQLite; checked now."""
    database_url(settings)
    return f"{ENV_PREFIX}{settings.database_url_env}" if settings.database_url_env else None


def resolve_ref(ref: str, setting: str) -> str:
    """The URL an ``env:NAME`` reference points at (anything else is returned as it is)."""
    return url_from_env(ref[len(ENV_PREFIX) :], setting) if ref.startswith(ENV_PREFIX) else ref


def libpq_url(url: str) -> str:
    """``url`` as libpq and psycopg take it (a SQLAlchemy driver suffix such as ``+psycopg`` removed)."""
    scheme, rest = url.split("://", 1)
    return f"{scheme.split('+', 1)[0]}://{rest}"


def sqlalchemy_url(url: str) -> str:
    """``url`` as SQLAlchemy takes it with the psycopg 3 driver (``postgresql+psycopg://``), for Optuna."""
    return "postgresql+psycopg://" + libpq_url(url).split("://", 1)[1]


def psycopg_module(feature: str = "a PostgreSQL run database") -> Any:
    """psycopg 3, or a clear error naming the ``postgres`` extra."""
    return import_extra("psycopg", "postgres", feature)


def connect(url: str, setting: str = SETTING) -> Any:
    """An autocommit psycopg connection to ``url``; a connection failure names the setting and the URL without
    its password."""
    psycopg = psycopg_module()
    try:
        return psycopg.connect(libpq_url(url), autocommit=True)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"{setting}: cannot connect to {safe_url(url)}: {_first_line(exc, url)}") from None


async def aconnect(url: str, setting: str = SETTING, **options: Any) -> Any:
    """:func:`connect` for asyncio (a psycopg ``AsyncConnection``; ``options`` go to ``connect``)."""
    psycopg = psycopg_module()
    try:
        return await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True, **options)
    except psycopg.OperationalError as exc:
        raise ConfigError(f"{setting}: cannot connect to {safe_url(url)}: {_first_line(exc, url)}") from None


def _first_line(exc: Exception, url: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = _PASSWORD.search(url)
    return text.replace(password.group(2), "***") if password and password.group(2) else text


def create_tables(conn: Any, *statements: str) -> None:
    """Run ``CREATE TABLE IF NOT EXISTS`` ``statements`` on ``conn``, one session at a time (concurrent ones
    collide in PostgreSQL)."""
    conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
    try:
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))


@contextmanager
def run_claim(settings: RunSettings, run_id: str, run_dir: Path) -> Iterator[None]:
    """Claim ``run_id`` in the run-state database for the run that starts in ``run_dir`` (nothing without one);
    the claim is withdrawn when the body raises (the run directory could not be made).

    Raises:
        RunDirError: the database already holds state for ``run_id``: a claim (the message says where and when that
            run started) or LangGraph checkpoints of a run that predates claims.
        ConfigError: the database cannot be reached (see :func:`connect`).
    """
    url = database_url(settings)
    if url is None:
        yield
        return
    with connect(url) as conn:
        holder = _claim(conn, run_id, run_dir)
    if holder is not None:
        raise RunDirError(
            f"run id '{run_id}' already has state in the run-state database (${settings.database_url_env}): "
            f"{holder}; continue that run with `evoforge resume {run_id}` (where its run directory is seen), or "
            "choose another --run-id"
        )
    try:
        yield
    except BaseException:
        with suppress(ConfigError), connect(url) as conn:  # at best: the error that stopped the start is raised
            conn.execute(f"DELETE FROM {RUNS_TABLE} WHERE run_id = %s", (run_id,))
        raise


def _claim(conn: Any, run_id: str, run_dir: Path) -> str | None:
    """Claim ``run_id`` (atomically: of two processes starting at once one wins); None, or what holds it."""
    create_tables(
        conn,
        f"CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id TEXT PRIMARY KEY, run_dir TEXT NOT NULL, "
        "host TEXT NOT NULL, started TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    holder = _holder(conn, run_id)
    if holder is not None:
        return holder
    if conn.execute("SELECT to_regclass('checkpoints')").fetchone()[0] is not None:
        found = conn.execute("SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (run_id,)).fetchone()
        if found is not None:
            return "its LangGraph checkpoints are there"
    inserted = conn.execute(
        f"INSERT INTO {RUNS_TABLE} (run_id, run_dir, host) VALUES (%s, %s, %s) "
        "ON CONFLICT (run_id) DO NOTHING RETURNING run_id",
        (run_id, str(run_dir.resolve()), socket.gethostname()),
    ).fetchone()
    return None if inserted is not None else _holder(conn, run_id)  # else claimed by another process just now


def _holder(conn: Any, run_id: str) -> str | None:
    row = conn.execute(f"SELECT run_dir, host, started FROM {RUNS_TABLE} WHERE run_id = %s", (run_id,)).fetchone()
    return None if row is None else f"it was started on {row[1]} at {row[2]:%Y-%m-%d %H:%M:%S %Z} in {row[0]}"
