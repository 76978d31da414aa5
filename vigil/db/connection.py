"""Resolve the database URL (external or embedded) and open connections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from vigil.db.embedded import LOOPBACK, EmbeddedServer
from vigil.db.types import Conn
from vigil.errors import VigilError
from vigil.settings import Settings, load_settings

PREFECT_DATABASE = "prefect"


def embedded_server(settings: Settings) -> EmbeddedServer:
    """The embedded PostgreSQL under Vigil's home, on 127.0.0.1 even when the other services
    bind to another address (``vigil up --host``): it trusts every local connection."""
    return EmbeddedServer(settings.home_dir, LOOPBACK, settings.db_port)


def ensure_database_exists(admin_url: str, name: str) -> None:
    """CREATE DATABASE ``name`` unless it exists (CREATE DATABASE cannot be transactional)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            # Another Vigil process may create it at the same moment.
            with suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The URL of Vigil's database.

    With ``VIGIL_DATABASE_URL`` set, that URL. Otherwise the embedded server's, which is
    started (idempotently) when ``start`` is true, with the ``vigil`` database created.
    """
    if settings.database_url:
        return with_schema(settings.database_url, settings.database_schema)
    server = embedded_server(settings)
    if start:
        server.start()
        ensure_database_exists(server.url("postgres"), settings.database_name)
    elif not server.status().running:
        raise VigilError("The embedded database is not running. Start it with `vigil db start`.")
    return with_schema(server.url(settings.database_name), settings.database_schema)


def with_schema(url: str, schema: str | None) -> str:
    """``url`` whose sessions find Vigil's tables in ``schema`` (and pgvector in public):
    the libpq ``options`` parameter sets their search_path. None: the URL as it is."""
    if not schema:
        return url
    option = f"-c search_path={schema},public"
    if option in str(psycopg.conninfo.conninfo_to_dict(url).get("options") or ""):
        return url  # already set (a child process given the parent's URL)
    if "://" not in url:
        return psycopg.conninfo.make_conninfo(url, options=option)
    from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    given = dict(parse_qsl(parts.query)).get("options")
    query.append(("options", f"{given} {option}" if given else option))
    return urlunsplit(parts._replace(query=urlencode(query, safe="", quote_via=quote)))


def prefect_database_url(settings: Settings) -> str:
    """SQLAlchemy/asyncpg URL of the Prefect server's database: VIGIL_PREFECT_DATABASE_URL, or
    a database named prefect on Vigil's PostgreSQL (created when the role may)."""
    if settings.prefect_database_url:
        return settings.prefect_database_url
    base = database_url(settings, start=True)
    info = psycopg.conninfo.conninfo_to_dict(base)
    admin = with_database(base, "postgres")
    try:
        ensure_database_exists(admin, PREFECT_DATABASE)
    except psycopg.errors.InsufficientPrivilege as err:
        raise VigilError(
            f"The Prefect server needs a database, and role {info.get('user') or '?'} may not "
            f"create {PREFECT_DATABASE!r} on {redact_url(admin)}. Create it (CREATE DATABASE "
            "prefect OWNER <role>), or set VIGIL_PREFECT_DATABASE_URL to one Prefect may use "
            "(postgresql+asyncpg://...)."
        ) from err
    user = info.get("user") or "postgres"
    password = f":{info['password']}" if info.get("password") else ""
    host = info.get("host") or "127.0.0.1"
    port = info.get("port") or "5432"
    return f"postgresql+asyncpg://{user}{password}@{host}:{port}/{PREFECT_DATABASE}"


def prepare_threshold() -> int | None:
    """psycopg's: None (never prepare) behind a pooler in transaction mode, where the next
    transaction may run on a server connection that never saw the statement."""
    return None if load_settings().database_pooler == "transaction" else 5


def connect(url: str, *, autocommit: bool = False) -> Conn:
    """A connection returning rows as dicts. Callers own its transaction and lifetime."""
    try:
        conn = psycopg.connect(url, autocommit=autocommit, row_factory=dict_row,
                               prepare_threshold=prepare_threshold())  # fmt: skip
    except psycopg.OperationalError as err:
        raise VigilError(
            f"Cannot connect to PostgreSQL at {redact_url(url)}: {str(err).strip()}. "
            "Start the embedded server with `vigil db start`, or check VIGIL_DATABASE_URL."
        ) from err
    return conn


def register_vectors(conn: Conn) -> None:
    """Give ``conn`` pgvector's types, so vectors are sent and read as numpy arrays.

    Imported here, not at module level: most commands never touch a vector.
    """
    from pgvector.psycopg import register_vector

    register_vector(conn)


def is_alive(conn: Conn) -> bool:
    """False when ``conn`` was closed or its server went away: the caller reconnects."""
    if conn.closed or conn.broken:
        return False
    try:
        conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


@contextmanager
def translate_errors() -> Iterator[None]:
    """Raise a database error inside the block as a :class:`VigilError` with its message,
    so that callers above the store (the UI) handle one error type and import no driver."""
    try:
        yield
    except psycopg.Error as err:
        raise VigilError(str(err)) from err


@contextmanager
def transaction(url: str) -> Iterator[Conn]:
    """One connection, one transaction: committed on success, rolled back on error."""
    with connect(url) as conn, conn.transaction():
        yield conn


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database ``name``."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" in url:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(path=f"/{name}"))
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def redact_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in url:
        return re.sub(r"password=\S+", "password=***", url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
