"""Connection strings: parsed, checked and shown without secrets.

A database is named by a SQLAlchemy URL: ``postgresql://user@host:5432/sales`` (a Unix
socket: ``postgresql://user@/sales?host=/var/run/postgresql``) or ``duckdb:///path/book.duckdb``.
Passwords never go into the URL, the plan file or any message: PostgreSQL takes them from
``PGPASSWORD`` or a ``.pgpass`` file (``PGPASSFILE``), which libpq reads itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from territory.errors import InputError

#: URL schemes territory connects to, by the kind of database they name
SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+psycopg": "postgresql",
    "duckdb": "duckdb",
}

#: URL parameters besides ``*pass*`` ones that carry secrets (libpq and cloud drivers)
SECRET_PARAMETERS = {"token", "access_token", "secret", "motherduck_token"}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def is_database_url(text) -> bool:
    """Whether ``text`` is a connection string territory reads (not a file path)."""
    if not isinstance(text, str):
        return False
    match = _SCHEME.match(text)
    return bool(match) and match.group(1).lower() in SCHEMES


@dataclass(frozen=True)
class Database:
    """A checked connection string. ``shown`` is safe to print; ``url`` is the SQLAlchemy URL
    (with the psycopg driver for PostgreSQL)."""

    kind: str  # "postgresql" or "duckdb"
    url: str
    shown: str

    @property
    def duckdb_path(self) -> Path | None:
        """The DuckDB file (None for an in-memory database)."""
        if self.kind != "duckdb":
            return None
        from sqlalchemy.engine import make_url

        path = make_url(self.url).database or ""  # decoded: "my book%.duckdb", ":memory:"
        return Path(path) if path and path != ":memory:" else None


def parse(text: str, what: str = "database") -> Database:
    """Check a connection string for ``what`` (``"accounts"``, ``"outputs"`` ...).

    Raises
    ------
    InputError
        Not a URL territory connects to, or a password written into it.
    """
    _require("sqlalchemy", what)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    match = _SCHEME.match(text) if isinstance(text, str) else None
    scheme = match.group(1).lower() if match else ""
    if scheme not in SCHEMES:
        raise InputError(
            f"The {what} connection string does not start with a known database scheme. Use "
            "postgresql://user@host/database or duckdb:///path/to/file.duckdb."
        )
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise InputError(
            f"The {what} connection string cannot be parsed. Write it as "
            "postgresql://user@host:port/database or duckdb:///path/to/file.duckdb."
        ) from None
    # libpq would take ?password=..., ?sslpassword=... (the client key's) too: any parameter
    # that can hold a secret is refused, and the URL is not shown
    in_query = [k for k in url.query if "pass" in k.lower() or k.lower() in SECRET_PARAMETERS]
    if in_query:
        raise InputError(
            f"The {what} connection string has a {in_query[0]} parameter. Remove it from the "
            "URL (and the plan file) and give the password in the PGPASSWORD environment "
            "variable or a .pgpass file (PGPASSFILE names another one)."
        )
    # as written (nothing secret is left in it), so users recognise it in messages
    shown = text.strip() if url.password is None else url.render_as_string(hide_password=True)
    if url.password is not None:
        raise InputError(
            f"The {what} connection string {shown} contains a password. Remove it from the URL "
            "(and the plan file) and give it in the PGPASSWORD environment variable or a "
            ".pgpass file (PGPASSFILE names another one)."
        )
    kind = SCHEMES[scheme]
    _require("psycopg" if kind == "postgresql" else "duckdb", what)
    if kind == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return Database(kind, url.render_as_string(hide_password=False), shown)


def _require(module: str, what: str) -> None:
    """A clear error when the ``db`` extra (drivers) is not installed."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise InputError(
            f"Reading or writing the {what} database needs the database drivers ({module} is "
            "not installed): pip install 'territory[db]'."
        )


def describe_failure(exc: BaseException, database: Database, what: str) -> str:
    """One readable sentence for a driver's connection or permission error, without secrets."""
    text = str(getattr(exc, "orig", None) or exc)
    lowered = text.lower()
    where = f"{what} database {database.shown}"
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return (
            f"The {where} refused the password. Set PGPASSWORD or add the server to your "
            ".pgpass file (PGPASSFILE names another one); passwords never go into the plan."
        )
    if "connection refused" in lowered or "no such file or directory" in lowered:
        return (
            f"Cannot connect to the {where}: no server is listening there. Check the host, "
            "port or socket folder, and that the server is running."
        )
    if "does not exist" in lowered and "database" in lowered:
        return f"The {where} does not exist on that server. Check the database name in the URL."
    if "permission denied" in lowered:
        detail = _first_line(text)
        return (
            f"The {where} denied access: {detail}. Ask for the right (GRANT) or use another role."
        )
    return f"The {where} failed: {_first_line(text)}"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("FATAL:").strip()
    return text.strip()
