"""The run-state database: PostgreSQL when ``run.database_url_env`` names a variable that holds its URL.

With it, the LangGraph checkpoints of every run, the Optuna study of every merge search, the LLM response cache and
the per-model LLM limits live in one PostgreSQL database, so that a run started on one machine resumes on another
that sees the same database and the same run directory. Without it (the default) each run keeps SQLite files in
its run directory and the response cache is the shared SQLite file.

The URL is read from the environment when it is needed and never written anywhere: a config names the variable,
as ``api_key_env`` does for a key. Messages about it name the setting and the variable and show the URL with its
password replaced (:func:`safe_url`).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from evoforge.errors import ConfigError, import_extra

if TYPE_CHECKING:
    from evoforge.config import RunSettings

SETTING = "run.database_url_env"
SCHEMES = ("postgresql", "postgres")
ENV_PREFIX = "env:"  # a storage string ``env:NAME`` means "the database URL held by the variable NAME"
_PASSWORD = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


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
