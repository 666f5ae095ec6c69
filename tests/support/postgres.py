"""A PostgreSQL server for the store tests: ``HEADROOM_TEST_POSTGRES_URL``, else a throw-away local cluster.

The ``postgres_url`` fixture (session scope) gives the URL of a server the tests may create
schemas in. ``.ci/run`` starts a cluster and exports ``HEADROOM_TEST_POSTGRES_URL``; without it
the fixture starts one itself when PostgreSQL's ``initdb`` is installed: a data folder in a
temp directory, listening on a free loopback port, trust authentication for one user, stopped
and deleted at the end of the session. PostgreSQL refuses to run as root, so under root the
cluster runs as the unprivileged user ``nobody``. With no server and no ``initdb`` (or no
psycopg driver), the PostgreSQL tests skip with the reason.

``postgres_schema_url`` (function scope) gives each test a fresh, empty schema on that server.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

__all__ = ["Cluster", "postgres_schema_url", "postgres_url", "start_cluster"]

ENV = "HEADROOM_TEST_POSTGRES_URL"
_USER = "headroom"


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running throw-away cluster; :meth:`stop` stops it and deletes its files."""

    url: str
    folder: Path
    pg_ctl: str
    run_as: list[str]

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> Cluster:
    """Start a cluster on a free loopback port; RuntimeError (with PostgreSQL's output) when it cannot."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL's initdb/pg_ctl are not installed")
    folder = Path(tempfile.mkdtemp(prefix="headroom-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses root: run it as nobody, in a folder nobody owns
        run_as = ["runuser", "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    data, port = folder / "data", _free_port()
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", _USER, "--auth=trust", "--no-sync", "-E", "UTF8"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=200"
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", b"") or b""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"could not start a PostgreSQL cluster: {exc}: {output.decode(errors='replace')}") from exc
    return Cluster(f"postgresql+psycopg://{_USER}@127.0.0.1:{port}/postgres", folder, pg_ctl, run_as)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the tests (see the module docs); skips when there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip('PostgreSQL tests need the psycopg driver: pip install -e ".[postgres]"')
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    try:
        cluster = start_cluster()
    except RuntimeError as exc:
        pytest.skip(f"no PostgreSQL for the tests: set {ENV}, or install PostgreSQL's initdb ({exc})")
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` with its own new schema first on the search path (dropped afterwards)."""
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
