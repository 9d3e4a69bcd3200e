"""A throwaway PostgreSQL/PostGIS server for the database tests.

``make test`` installs PostgreSQL and PostGIS from Debian's packages
(``scripts/ensure-test-tools.sh``); this module starts a new cluster in a temporary folder,
listening only on a Unix socket in that folder (no TCP port), and stops it when the test
session ends. PostgreSQL refuses to run as root, so under root (CI) the server runs as the
``postgres`` system user that the Debian package creates.

Tests get a SQLAlchemy URL from the ``postgis_url`` fixture in ``conftest.py``:
``postgresql+psycopg://territory@/territory?host=<socket folder>``. The database user has a
password (``TERRITORY_TEST_PGPASSWORD``), and the server asks for it on the socket, so the tests
that check passwords come from the environment or a ``.pgpass`` file use a real check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "territory"
DATABASE = "territory"
PASSWORD = "pw-for-tests-only"
ENV_PASSWORD = "TERRITORY_TEST_PGPASSWORD"


class ServerUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is not installed here (``make test`` installs both)."""


def pg_bin() -> Path:
    """The folder with initdb/pg_ctl of the newest installed PostgreSQL."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version)
    if not found:
        on_path = shutil.which("pg_ctl")
        if on_path is None:
            raise ServerUnavailable(
                "PostgreSQL is not installed: run `make test` (it installs postgresql and "
                "postgis from Debian) or `bash scripts/ensure-test-tools.sh`."
            )
        return Path(on_path).parent
    return found[-1].parent


def _version(path: Path) -> int:
    try:
        return int(path.parent.parent.name)
    except ValueError:
        return 0


def has_postgis(bin_dir: Path) -> bool:
    """Whether the PostGIS extension is installed for the PostgreSQL in ``bin_dir``."""
    version = bin_dir.parent.name
    return (Path("/usr/share/postgresql") / version / "extension" / "postgis.control").exists()


@dataclass
class Server:
    """A running cluster; :meth:`stop` ends it and removes its folder."""

    root: Path
    bin_dir: Path
    as_user: list[str]

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = DATABASE, user: str = USER, driver: str = "psycopg") -> str:
        """A SQLAlchemy URL without a password (it comes from the environment or .pgpass)."""
        return f"postgresql+{driver}://{user}@/{database}?host={self.socket_dir}"

    def psql(self, sql: str, database: str = DATABASE) -> str:
        """Run ``sql`` as the superuser (set-up and inspection in tests)."""
        out = self._run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ]
        )
        return out.stdout

    def stop(self) -> None:
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, cmd: list[str], check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.as_user, *cmd], capture_output=True, text=True, env=_clean_env()
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:1])} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    return env


def start(timeout: float = 60.0) -> Server:
    """Create and start a cluster with PostGIS, a password user and a database for the tests."""
    bin_dir = pg_bin()
    if not has_postgis(bin_dir):
        raise ServerUnavailable(
            "PostGIS is not installed for PostgreSQL "
            f"{bin_dir.parent.name}: run `bash scripts/ensure-test-tools.sh`."
        )
    root = Path(tempfile.mkdtemp(prefix="territory-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o755)
    server = Server(root, bin_dir, as_user)
    server._run(["mkdir", "-p", str(server.socket_dir)])
    pwfile = root / "superuser-password"
    server._run(["sh", "-c", f"umask 077; echo postgres-only > {pwfile}"])
    server._run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]
    )
    # the superuser connects over the socket without a password (peer would need a matching
    # system user); every other role must give its password
    hba = server.data_dir / "pg_hba.conf"
    server._run(
        ["sh", "-c", f"printf 'local all postgres trust\\nlocal all all scram-sha-256\\n' > {hba}"]
    )
    server._run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-w",
            "-t",
            str(int(timeout)),
            "-l",
            str(root / "server.log"),
            "-o",
            f"-c listen_addresses='' -c unix_socket_directories={server.socket_dir} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
            "start",
        ]
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            server.psql("select 1", database="postgres")
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                server.stop()
                raise
            time.sleep(0.2)
    server.psql(f"create role {USER} login password '{PASSWORD}'", database="postgres")
    server.psql(f"create database {DATABASE} owner {USER}", database="postgres")
    server.psql("create extension postgis")
    return server
