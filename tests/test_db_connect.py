"""Connection strings (territory.db.connect): checked, shown without secrets, and the
driver's failures of a real server told in one sentence."""

from __future__ import annotations

import pytest

from territory.db.connect import describe_failure, is_database_url, parse
from territory.errors import InputError


def test_a_password_in_the_url_is_refused_and_not_repeated():
    with pytest.raises(InputError) as err:
        parse("postgresql://planner:S3cret-pw@db.example:5432/sales", "accounts")
    message = str(err.value)
    assert "S3cret-pw" not in message
    assert "contains a password" in message and "PGPASSWORD" in message and ".pgpass" in message
    assert "postgresql://planner:***@db.example:5432/sales" in message


def test_a_password_parameter_is_refused_and_the_url_not_shown():
    for text in ("postgresql://planner@db/sales?password=S3cret-pw",
                 "postgresql://planner@db/sales?sslmode=require&PASSWORD=S3cret-pw",
                 "postgresql://planner@db/sales?sslpassword=S3cret-pw",
                 "duckdb:///book.duckdb?motherduck_token=S3cret-pw"):  # fmt: skip
        with pytest.raises(InputError, match="has a .* parameter") as err:
            parse(text, "accounts")
        assert "S3cret-pw" not in str(err.value) and "PGPASSWORD" in str(err.value)


def test_messages_show_the_url_as_written():
    text = "postgresql://planner@/sales?host=/run/postgresql"
    assert parse(text).shown == text
    assert parse("duckdb:///data/my book.duckdb").shown == "duckdb:///data/my book.duckdb"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("mysql://planner@db/sales", "does not start with a known database scheme"),
        ("accounts.csv", "does not start with a known database scheme"),
        ("postgresql://planner@db:port/sales", "cannot be parsed"),
    ],
)
def test_scheme_and_syntax_errors(text, expected):
    with pytest.raises(InputError, match=expected):
        parse(text, "accounts")


def test_kinds_drivers_and_duckdb_paths():
    db = parse("postgres://planner@/sales?host=/run/postgresql")
    assert db.kind == "postgresql" and db.url.startswith("postgresql+psycopg://planner@/sales")
    assert db.duckdb_path is None
    duck = parse("duckdb:///data/book.duckdb")
    assert duck.kind == "duckdb" and str(duck.duckdb_path) == "data/book.duckdb"
    assert parse("duckdb:///:memory:").duckdb_path is None
    assert str(parse("duckdb:////data/my book%.duckdb").duckdb_path) == "/data/my book%.duckdb"
    assert is_database_url("postgresql+psycopg://a@b/c") and is_database_url("duckdb:///x")
    assert not is_database_url("accounts.csv") and not is_database_url(None)
    assert not is_database_url("s3://bucket/accounts.parquet")


def _failure(url: str):
    import sqlalchemy as sa

    engine = sa.create_engine(parse(url).url, poolclass=sa.pool.NullPool)
    try:
        with pytest.raises(sa.exc.OperationalError) as err:
            engine.connect()
    finally:
        engine.dispose()
    return describe_failure(err.value, parse(url), "accounts")


def test_describe_failure_of_a_real_server(postgis_server, postgis_url, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    text = _failure(postgis_url)
    assert text.startswith("The accounts database postgresql+psycopg://territory@/territory")
    assert "refused the password" in text and "not-the-password" not in text
    monkeypatch.setenv("PGPASSWORD", "pw-for-tests-only")
    text = _failure(postgis_url.replace("/territory?", "/sales_missing?"))
    assert "sales_missing" in text and "does not exist on that server" in text
    text = _failure(postgis_url.replace("/socket", "/nothing-listens"))
    assert "no server is listening there" in text


def test_describe_failure_of_a_refused_tcp_port():
    # 127.0.0.1 port 9 (discard) has no PostgreSQL server
    text = _failure("postgresql://planner@127.0.0.1:9/sales")
    assert "Cannot connect to the accounts database postgresql://planner@127.0.0.1:9/sales" in text
    assert "no server is listening there" in text
