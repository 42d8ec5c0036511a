# PostgreSQL for tests/test_db_sources.py (README, Reading from databases): Debian's server, a
# throwaway cluster in a temporary folder listening on 127.0.0.1 only, a login with a password and
# a database. Sourced by .ci/run (exports PBR_TEST_PG_URL, registers the stop in PBR_CI_CLEANUP);
# tests/conftest.py also runs it to start a server of its own when PBR_TEST_PG_URL is unset.

pbr_pg_bin() { { ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true; } | sort -V | tail -n 1; }
if [ -z "$(pbr_pg_bin)" ] && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends postgresql >/dev/null; }
fi
PBR_PG_BIN="$(pbr_pg_bin)"
if [ -z "$PBR_PG_BIN" ] && command -v initdb >/dev/null 2>&1; then PBR_PG_BIN="$(dirname "$(command -v initdb)")"; fi
[ -n "$PBR_PG_BIN" ] || { echo "postgresql.sh: no PostgreSQL server programs found" >&2; return 1 2>/dev/null || exit 1; }

PBR_PG_DIR="$(mktemp -d /tmp/pbr-pg.XXXXXX)"
# initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$PBR_PG_DIR"
    pbr_pg_as=(runuser -u postgres --)
else
    pbr_pg_as=()
fi
pbr_pg_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pbr_pg_password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
"${pbr_pg_as[@]}" "$PBR_PG_BIN/initdb" -D "$PBR_PG_DIR/data" -U postgres --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$PBR_PG_DIR/initdb.log" 2>&1 \
    || "${pbr_pg_as[@]}" "$PBR_PG_BIN/initdb" -D "$PBR_PG_DIR/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >"$PBR_PG_DIR/initdb.log" 2>&1
"${pbr_pg_as[@]}" "$PBR_PG_BIN/pg_ctl" -D "$PBR_PG_DIR/data" -l "$PBR_PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pbr_pg_port -k $PBR_PG_DIR -c fsync=off" start >/dev/null
PBR_CI_CLEANUP+=("${pbr_pg_as[*]} $PBR_PG_BIN/pg_ctl -D $PBR_PG_DIR/data -m fast -w stop >/dev/null 2>&1; rm -rf $PBR_PG_DIR")
"${pbr_pg_as[@]}" "$PBR_PG_BIN/psql" -q -h "$PBR_PG_DIR" -p "$pbr_pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE pbr_test LOGIN PASSWORD '$pbr_pg_password'" -c "CREATE DATABASE pbr_test OWNER pbr_test" >/dev/null
export PBR_TEST_PG_URL="postgresql+psycopg://pbr_test:$pbr_pg_password@127.0.0.1:$pbr_pg_port/pbr_test"
unset pbr_pg_port pbr_pg_password pbr_pg_as
