#!/usr/bin/env bash
# Starts a PostgreSQL server on loopback for the feature store tests (Tests/ListConRankerStoreTests)
# and writes the variables the tests read to a file that CI sources:
#
#   tools/ci/start-postgres.sh [ENV_FILE]      # default ENV_FILE: ${TMPDIR:-/tmp}/listconranker-postgres.env
#   . "${TMPDIR:-/tmp}/listconranker-postgres.env"
#
# Run as root on Debian (CI and the developers' machines are). Installs postgresql when missing and
# uses a cluster of its own, "listconranker" on port 55432, beside any cluster the machine already
# runs, so the outage test may stop and start it without touching anybody else's database. Safe to
# run again: an existing cluster, role and database are reused.
set -euo pipefail

ENV_FILE="${1:-${TMPDIR:-/tmp}/listconranker-postgres.env}"
CLUSTER=listconranker
PORT="${LISTCONRANKER_POSTGRES_PORT:-55432}"
ROLE=listconranker
PASSWORD=listconranker-test   # a throwaway server on loopback only
DATABASE=listconranker_test

if ! command -v pg_createcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"

if ! pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
    # Password authentication over TCP, as a deployment has. Debian's default listen_addresses is
    # 'localhost': loopback only.
    pg_createcluster "$VERSION" "$CLUSTER" --port "$PORT" --start-conf manual \
        -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
PORT="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { print $3 }')"
STATUS="$(pg_lsclusters -h | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { print $4 }')"
if [ "$STATUS" != "online" ]; then
    pg_ctlcluster "$VERSION" "$CLUSTER" start
fi

psql_admin() { runuser -u postgres -- psql --port "$PORT" --quiet --no-psqlrc -v ON_ERROR_STOP=1 "$@"; }
if [ "$(psql_admin -tA -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi

cat > "$ENV_FILE" <<ENV
export LISTCONRANKER_TEST_POSTGRES_URL='postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE?sslmode=disable'
export LISTCONRANKER_TEST_POSTGRES_STOP='pg_ctlcluster $VERSION $CLUSTER stop --mode fast'
export LISTCONRANKER_TEST_POSTGRES_START='pg_ctlcluster $VERSION $CLUSTER start'
ENV
cat "$ENV_FILE"
