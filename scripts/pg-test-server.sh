#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests of Veil's PostgreSQL source and push-down (Debian's
# `postgresql` package, see scripts/install-deps.sh). Not for production: trust authentication, no fsync.
#
#   scripts/pg-test-server.sh start DIR      initdb into DIR/data and start a server listening only on a unix
#                                            socket in DIR (no TCP port, so nothing to collide with); prints
#                                            the connection string on stdout
#   scripts/pg-test-server.sh stop DIR       stop that server and delete DIR
#   scripts/pg-test-server.sh conninfo DIR   print the connection string
#   scripts/pg-test-server.sh run DIR CMD..  start, run CMD with VEIL_PG_TEST_CONNINFO set, stop at exit
#
# DIR must be a short absolute path (a unix socket path holds at most 107 bytes): CTest uses
# /tmp/veil-pg-<hash of the build directory> (src/veil/table/CMakeLists.txt). A server left behind by an
# interrupted run in DIR is stopped and replaced by `start`.
#
# As root (tests and CI run as root), the server runs as the `postgres` system user that Debian's package
# creates, since PostgreSQL refuses to run as root; the client (root) can still reach the socket. As any other
# user it runs as that user. The database superuser is always `postgres`.
#
# PG_BINDIR, when set, names the directory of initdb, pg_ctl and postgres (default: the newest
# /usr/lib/postgresql/*/bin, Debian's layout).
#
# Exit codes: 0 success; 1 the server could not be set up or started (the reason and the server log's tail on
# stderr); 77 PostgreSQL is not installed and CI is not set (CTest reports the fixture as skipped; under
# CI=true a missing installation is a failure like any other).
set -euo pipefail

PORT=5432  # names the socket file only (DIR/.s.PGSQL.5432); no TCP listener

die() { echo "pg-test-server: $*" >&2; exit 1; }

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

find_bindir() {
  # The newest installed major version (Debian 12 ships 15).
  local dir
  if [ -n "${PG_BINDIR:-}" ]; then
    dir=$PG_BINDIR
  else
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ] || [ ! -x "$dir/pg_ctl" ]; then
    local msg="PostgreSQL server binaries (initdb, pg_ctl) not found in ${PG_BINDIR:-/usr/lib/postgresql/*/bin}; \
install Debian's postgresql package (scripts/install-deps.sh)"
    if [ "${CI:-}" = "true" ]; then die "$msg"; fi
    echo "pg-test-server: $msg; the PostgreSQL tests are skipped (under CI=true this is a failure)" >&2
    exit 77
  fi
  echo "$dir"
}

check_dir_arg() {
  local dir=$1
  case "$dir" in /*) ;; *) die "DIR must be an absolute path, got '$dir'" ;; esac
  # sockaddr_un.sun_path is 108 bytes including the terminating NUL.
  local socket="$dir/.s.PGSQL.$PORT"
  if [ ${#socket} -gt 107 ]; then die "DIR '$dir' is too long for a unix socket path (${#socket} > 107 bytes)"; fi
}

conninfo() { echo "postgresql:///postgres?host=$1&port=$PORT&user=postgres"; }

# Runs a command as the server's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop_server() {
  local dir=$1 bindir
  if [ -f "$dir/data/postmaster.pid" ]; then
    bindir=$(find_bindir)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

remove_dir() {
  local dir=$1
  if [ -L "$dir" ]; then die "refusing to use '$dir': it is a symbolic link"; fi
  if [ -e "$dir" ]; then
    # Only a directory this script made (owned by us or, as root, by postgres) is ours to delete.
    local owner
    owner=$(stat -c %U "$dir")
    if [ "$owner" != "$(id -un)" ] && ! { [ "$(id -u)" -eq 0 ] && [ "$owner" = "postgres" ]; }; then
      die "refusing to delete '$dir': owned by $owner"
    fi
    rm -rf -- "$dir"
  fi
}

start_server() {
  local dir=$1 bindir
  bindir=$(find_bindir)
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    die "running as root needs the 'postgres' system user (created by Debian's postgresql package)"
  fi
  stop_server "$dir"
  remove_dir "$dir"
  mkdir -m 700 -- "$dir" || die "cannot create '$dir'"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi

  if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      --no-sync >"$dir/initdb.log" 2>&1; then
    tail -n 20 "$dir/initdb.log" >&2 || true
    die "initdb failed in '$dir/data' (log above)"
  fi
  # Settings for a disposable test server: no TCP, no durability, quick to start and stop.
  as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 64MB
work_mem = 64MB
log_min_messages = warning
EOF
  if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
    tail -n 20 "$dir/server.log" >&2 || true
    die "the server in '$dir' did not start (log above)"
  fi
  if ! "$bindir/pg_isready" -q -h "$dir" -p "$PORT" -t 10; then
    tail -n 20 "$dir/server.log" >&2 || true
    die "the server in '$dir' started but does not accept connections (log above)"
  fi
  echo "pg-test-server: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ready in $dir" >&2
  conninfo "$dir"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=${2%/}
check_dir_arg "$dir"
case "$cmd" in
  start) start_server "$dir" ;;
  stop) stop_server "$dir"; remove_dir "$dir" ;;
  conninfo) conninfo "$dir" ;;
  run)
    shift 2
    [ $# -ge 1 ] || usage
    trap 'stop_server "$dir"; remove_dir "$dir"' EXIT
    VEIL_PG_TEST_CONNINFO=$(start_server "$dir")
    export VEIL_PG_TEST_CONNINFO
    "$@"
    ;;
  *) usage ;;
esac
