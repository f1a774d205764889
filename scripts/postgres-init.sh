#!/bin/sh
# Runs once, when the compose file's PostgreSQL starts on an empty volume. The application connects as
# `warehouse`, which owns its database but is not a superuser: it cannot switch off the triggers that
# keep the audit trail and the evidence append-only (session_replication_role needs a superuser).
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$WAREHOUSE_DB_PASSWORD" -v database="$POSTGRES_DB" \
     --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE warehouse LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';
ALTER DATABASE :"database" OWNER TO warehouse;
ALTER SCHEMA public OWNER TO warehouse;
SQL
