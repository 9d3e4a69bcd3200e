#!/usr/bin/env bash
# Install the system tools the test suite needs: Debian chromium for the browser tests, npm for
# the real boundary layers of the oracle tests (scripts/fetch_real_layers.py), PostgreSQL with
# PostGIS for the database tests (tests/pgserver.py starts a throwaway server on a socket).
# Idempotent: does nothing when they are already there.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_ctl" ] || missing+=(postgresql)
postgis_missing() {
    local version
    version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -z "$version" ] || [ ! -e "/usr/share/postgresql/$version/extension/postgis.control" ]
}
if [ "${#missing[@]}" = "0" ] && ! postgis_missing; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    SUDO=sudo
else
    SUDO=
fi
if [ "${#missing[@]}" != "0" ]; then
    echo "Installing ${missing[*]} for the test suite..."
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# PostGIS is packaged per PostgreSQL major version: install the one for the server now present
if postgis_missing; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    echo "Installing PostGIS for PostgreSQL $version for the database tests..."
    [ "${#missing[@]}" != "0" ] || $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$version-postgis-3" >/dev/null
fi
