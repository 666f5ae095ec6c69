"""Opening the store's database: where it lives, the engine, the tables, and one-sentence errors.

- Where: ``sqlite://`` (and stateless mode) is process memory; a relative SQLite path lives under
  the workspace, which is created owner-only (0700) or, when it cannot be written, replaced by
  a private per-user folder in the temp directory (see :mod:`headroom.env`). A new SQLite file
  is created 0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` files the
  database file's permissions.
- Engines: SQLite in WAL mode with a busy timeout; PostgreSQL through psycopg (the ``postgres``
  extra), with connections checked before use.
- Tables: created when missing, safely while other processes do the same (``IF NOT EXISTS``;
  on PostgreSQL under an advisory lock, since concurrent ``CREATE TABLE`` there can still
  collide on the type catalogue). A store that already has its tables is opened without writing.
- Errors: whatever stops a store from opening (an unknown URL scheme, a missing driver, a
  folder that cannot be created, a file that is not a database) becomes one :class:`StoreError`
  sentence that names the store without its password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.schema import CreateIndex, CreateTable

from headroom.about import install_hint
from headroom.ccr.schema import metadata
from headroom.config import HeadroomConfig
from headroom.env import make_private_dir, private_temp_dir
from headroom.errors import ConfigurationError, StoreError

__all__ = ["create_schema", "describe_error", "make_engine", "open_engine", "resolve_store_url", "safe_url"]

_SCHEMA_LOCK = 0x68656164  # PostgreSQL advisory lock id held while creating tables ("head")
_ACCEPTED = "sqlite:////abs/path/headroom.db, sqlite:// (in memory) or postgresql://user@host/db"


def resolve_store_url(config: HeadroomConfig | None = None, store_url: str | None = None) -> str:
    """The SQLAlchemy URL to open: in memory when stateless, relative SQLite paths under the workspace."""
    cfg = config
    if store_url is None:
        if cfg is None:
            cfg = HeadroomConfig()
        if cfg.stateless:
            return "sqlite://"
        store_url = cfg.store_url
    workspace_dir = cfg.workspace_dir if cfg is not None else HeadroomConfig().workspace_dir
    # Every compress() call resolves its store: remember the answer per (URL, workspace), and
    # only check that the workspace directory is still there.
    known = _resolved.get((store_url, workspace_dir))
    if known is not None and (known[1] is None or os.path.isdir(known[1])):
        return known[0]
    resolved = _resolve(store_url, workspace_dir)
    _resolved[(store_url, workspace_dir)] = resolved
    return resolved[0]


_resolved: dict[tuple[str, str], tuple[str, str | None]] = {}


def _resolve(store_url: str, workspace_dir: str) -> tuple[str, str | None]:
    """The URL to open and, for a SQLite file under the workspace, the directory it lives in."""
    try:
        url = make_url(store_url)
    except ArgumentError:
        raise ConfigurationError("store_url", store_url, f"a SQLAlchemy URL such as {_ACCEPTED}") from None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return store_url, None
    path = Path(url.database)
    if path.is_absolute():
        return store_url, None
    workspace = _writable_workspace(workspace_dir)
    return str(url.set(database=str(workspace / path))), str(workspace)


_workspaces: dict[str, Path] = {}


def _writable_workspace(workspace_dir: str) -> Path:
    """The workspace directory, created owner-only and checked for writing once per process.

    When it cannot be created or written (a read-only HOME), a private per-user folder in the
    temp directory is used instead.
    """
    known = _workspaces.get(workspace_dir)
    if known is not None and known.is_dir():
        return known
    workspace = Path(workspace_dir).expanduser()
    try:
        make_private_dir(workspace)
        probe = workspace / f".headroom-write-probe-{os.getpid()}"
        probe.touch(mode=0o600)
        probe.unlink()
    except OSError:
        workspace = private_temp_dir()
    _workspaces[workspace_dir] = workspace
    return workspace


def safe_url(url: str) -> str:
    """``url`` as it may be shown or logged: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def describe_error(exc: BaseException) -> str:
    """The first line of what the database driver said (SQLAlchemy wraps it with a link and the SQL)."""
    original = getattr(exc, "orig", None)
    message = str(original if original is not None else exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        message = exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return message.splitlines()[0] if message else type(exc).__name__


def open_engine(url: str) -> Engine:
    """An engine for ``url`` with the store's tables in place; StoreError (one sentence) when unusable."""
    shown = safe_url(url)
    try:
        engine = make_engine(url)
    except ArgumentError as exc:  # includes NoSuchModuleError: a scheme no installed dialect knows
        if isinstance(exc, NoSuchModuleError):
            scheme = make_url(url).drivername
            raise StoreError(
                f"cannot open the Headroom store {shown}: unknown URL scheme {scheme!r}; accepted {_ACCEPTED}"
            ) from None
        raise StoreError(f"cannot open the Headroom store {shown}: {describe_error(exc)}") from None
    except ImportError as exc:
        raise StoreError(f"cannot open the Headroom store {shown}: {_missing_driver(url, exc)}") from None
    except OSError as exc:
        raise StoreError(f"cannot open the Headroom store {shown}: cannot create it ({describe_error(exc)})") from None
    try:
        create_schema(engine)
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise StoreError(f"cannot open the Headroom store {shown}: {describe_error(exc)}") from None
    except ImportError as exc:  # some dialects import their driver on first connect
        engine.dispose()
        raise StoreError(f"cannot open the Headroom store {shown}: {_missing_driver(url, exc)}") from None
    return engine


def _missing_driver(url: str, exc: ImportError) -> str:
    parsed = make_url(url)
    module = exc.name or str(exc)
    if parsed.get_backend_name() == "postgresql":
        return f"the PostgreSQL driver is not installed ({module}); install it with {install_hint('postgres')}"
    return f"the database driver {module!r} for {parsed.drivername!r} URLs is not installed"


def make_engine(url: str) -> Engine:
    """The SQLAlchemy engine of ``url`` (no connection yet, except that a new SQLite file is created 0600)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if not parsed.database or parsed.database == ":memory:":
        return create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
    path = Path(parsed.database)
    make_private_dir(path.parent)
    _create_private_file(path)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def _create_private_file(path: Path) -> None:
    """Create an empty ``path`` readable by its owner only, unless it exists (SQLite accepts an empty file)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def create_schema(engine: Engine) -> None:
    """Create the store's missing tables and indexes; safe while other processes do the same."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        inspector = inspect(conn)
        tables = set(inspector.get_table_names())
        for table in metadata.sorted_tables:
            if table.name not in tables:
                conn.execute(CreateTable(table, if_not_exists=True))
                existing: set[str] = set()
            else:
                existing = {str(ix["name"]) for ix in inspector.get_indexes(table.name) if ix.get("name")}
            for index in table.indexes:  # stores created before an index existed get it too
                if index.name not in existing:
                    conn.execute(CreateIndex(index, if_not_exists=True))
