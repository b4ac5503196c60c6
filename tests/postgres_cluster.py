"""A PostgreSQL server for the tests that need one (``from postgres_cluster import postgres_url``).

``$EVOFORGE_TEST_DATABASE_URL`` (``.ci/run`` starts a cluster and sets it) is used as it is; otherwise a throwaway
cluster is made with Debian's ``initdb`` / ``pg_ctl`` in a temporary folder, on a free loopback port, with a random
password that lives only in this process's memory and environment, and stopped afterwards. When neither is
possible the test is skipped, saying why.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

URL_ENV = "EVOFORGE_TEST_DATABASE_URL"


def _binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    return found if isinstance(found, str) else (found[0] if found else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    """``cmd`` run as ``owner`` (initdb refuses root, so a root test process runs it as ``postgres``)."""
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster in a temporary folder and yield its URL (user ``evoforge``, database ``postgres``)."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip(f"no PostgreSQL server binaries (apt-get install postgresql) and no ${URL_ENV}")
    owner = "postgres" if os.geteuid() == 0 else None
    if owner and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start a throwaway PostgreSQL cluster")
    password, port = secrets.token_hex(12), _free_port()
    with tempfile.TemporaryDirectory(prefix="evoforge-pg-") as tmp:
        data, log = Path(tmp) / "data", Path(tmp) / "server.log"
        if owner:
            shutil.chown(tmp, owner)
        read, write = os.pipe()  # the password reaches initdb through a pipe, never a file
        os.write(write, (password + "\n").encode())
        os.close(write)
        os.fchmod(read, 0o644)  # readable by the cluster's owner through /dev/stdin
        init = subprocess.run(
            _as_owner(
                [initdb, "-D", str(data), "-U", "evoforge", "--auth=scram-sha-256", "--pwfile=/dev/stdin"], owner
            ),
            stdin=read,
            capture_output=True,
            text=True,
            check=False,
        )
        os.close(read)
        if init.returncode:
            pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "-t", "60", "start"]
        started = subprocess.run(_as_owner(start, owner), capture_output=True, text=True, check=False)
        if started.returncode:
            pytest.skip(f"the PostgreSQL server did not start: {started.stdout.strip()[-300:]}")
        try:
            yield f"postgresql://evoforge:{password}@127.0.0.1:{port}/postgres"
        finally:
            stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
            subprocess.run(_as_owner(stop, owner), capture_output=True, check=False)


@contextmanager
def postgres_url() -> Iterator[str]:
    """The URL of a PostgreSQL database for a test: ``$EVOFORGE_TEST_DATABASE_URL``, else a throwaway cluster."""
    if os.environ.get(URL_ENV):
        yield os.environ[URL_ENV]
        return
    with throwaway_cluster() as url:
        yield url
