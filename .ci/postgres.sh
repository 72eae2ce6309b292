#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on 127.0.0.1 for the storage contract tests and export
# SHOPSENSE_TEST_POSTGRES_URL. Sourced by .ci/run; installs Debian's postgresql if missing.
set -euo pipefail

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pg_bin" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
pg_port=${SHOPSENSE_PG_PORT:-55432}
pg_dir=$(mktemp -d /tmp/shopsense-pg.XXXXXX)
chown postgres "$pg_dir"
su postgres -c "cd / && $pg_bin/initdb -D $pg_dir/data -A trust -U postgres" >/dev/null
su postgres -c "cd / && $pg_bin/pg_ctl -D $pg_dir/data -w -l $pg_dir/log \
  -o '-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null
export SHOPSENSE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
trap 'su postgres -c "$pg_bin/pg_ctl -D $pg_dir/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
