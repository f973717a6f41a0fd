#!/bin/sh
# One image, three servers: the first argument says which (as with the public images).
#   postgres [ARGS]          PostgreSQL; POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA
#   redis-server [ARGS]      Redis
#   server DIR [ARGS]        MinIO; MINIO_ROOT_USER, MINIO_ROOT_PASSWORD
set -eu

init_postgres() {
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 >&2
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        # Local socket only while the database is made.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
        createdb -U "$user" "$db"
        pg_ctl -D "$PGDATA" -m fast -w stop >&2
    fi
}

case "${1:-postgres}" in
    postgres)
        [ "$#" -gt 0 ] && shift
        export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
        [ -s "$PGDATA/PG_VERSION" ] || init_postgres
        exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
        ;;
    server)
        exec minio "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
