"""Functions no Superset query may call, checked in SQL Lab and in chart queries alike.

Superset checks DISALLOWED_SQL_FUNCTIONS in SQL Lab only; a chart's ad-hoc column or filter sent to
/api/v1/chart/data is not checked, so `refuse_disallowed_functions` (SQL_QUERY_MUTATOR) checks every
statement Superset runs. The warehouse is the real barrier (the SQL-from-string functions are revoked
there, and row-level security limits each login to its region): this list stops the attempt early,
with a clear message, and covers functions the database still allows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from superset.exceptions import SupersetDisallowedSQLFunctionException
from superset.sql.parse import SQLScript

# Superset 6.1's default list for PostgreSQL (superset/config.py), kept whole.
SUPERSET_DEFAULT = frozenset({
    "current_database", "current_schema", "current_user", "session_user", "current_setting", "version",
    "inet_client_addr", "inet_client_port", "inet_server_addr", "inet_server_port",
    "pg_read_file", "pg_ls_dir", "pg_read_binary_file",
    "database_to_xml", "database_to_xmlschema", "query_to_xml", "query_to_xmlschema", "table_to_xml",
    "table_to_xml_and_xmlschema", "query_to_xml_and_xmlschema", "table_to_xmlschema",
    "pg_sleep", "pg_terminate_backend",
})
# Functions that run SQL given as a string, or read a whole schema, database or cursor: the default
# list misses these.
RUN_SQL_FROM_STRING = frozenset({
    "database_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",
    "cursor_to_xml", "cursor_to_xmlschema", "ts_stat", "ts_rewrite",
    "dblink", "dblink_exec", "dblink_open", "dblink_fetch", "dblink_send_query", "dblink_get_result",
    "dblink_connect", "dblink_connect_u",
})
# Settings (role, timeouts), server files, large objects, other sessions, and the server itself.
OTHER_UNSAFE = frozenset({
    "set_config", "pg_stat_file", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
    "lo_import", "lo_export", "lo_get", "lo_put", "lo_from_bytea", "lo_open", "lo_creat", "lo_create",
    "lo_unlink", "loread", "lowrite", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_sleep_for", "pg_sleep_until", "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock",
})
POSTGRESQL = SUPERSET_DEFAULT | RUN_SQL_FROM_STRING | OTHER_UNSAFE


def refuse_disallowed_functions(sql: str, database: Any = None, **_: Any) -> str:
    """SQL_QUERY_MUTATOR: the SQL unchanged, or SupersetDisallowedSQLFunctionException.

    SQL that does not parse is refused too: what cannot be checked is not run.
    """
    if database is not None and database.db_engine_spec.engine != "postgresql":
        return sql
    found = disallowed_in(sql)
    if found is None:
        raise SupersetDisallowedSQLFunctionException({"(SQL that cannot be parsed)"})
    if found:
        raise SupersetDisallowedSQLFunctionException(set(found))
    return sql


# Every user of a chart sends the same SQL (regions differ by warehouse login, not by SQL text), and
# parsing it is about a tenth of a warehouse query's cost in Superset (docs/benchmarks.md#dashboards):
# the verdict is a function of the text alone, so it is kept per process for the most recent texts.
@lru_cache(maxsize=2048)
def disallowed_in(sql: str) -> frozenset[str] | None:
    """The disallowed functions the SQL calls (empty: none), or None when it does not parse."""
    try:
        script = SQLScript(sql, "postgresql")
    except Exception:  # noqa: BLE001 - any parse failure
        return None
    if not script.check_functions_present(set(POSTGRESQL)):
        return frozenset()
    return frozenset(name for name in POSTGRESQL if script.check_functions_present({name}))
