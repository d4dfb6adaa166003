"""Databases, roles and connection URLs on the active server (local cluster or SPW_DATABASE_URL)."""

from __future__ import annotations

from importlib import resources

import psycopg
from psycopg import sql

from spw import pg
from spw.bi_logins import NO_ROWS_LOGIN, REGION_LOGINS
from spw.errors import SpwError
from spw.secrets import role_password

LOGIN_ROLES = ("spw_loader", "spw_transformer", "spw_bi_reader", "spw_analyst", "spw_airflow", "spw_superset",
               *REGION_LOGINS, NO_ROWS_LOGIN)
# Metadata databases are owned by their application role.
DB_OWNERS = {"warehouse": None, "airflow": "spw_airflow", "superset": "spw_superset"}


def url(dbname: str = "warehouse", role: str | None = None) -> str:
    """A URL psycopg, psql, SQLAlchemy and dbt accept; role=None means the bootstrap admin."""
    admin = pg.admin_url(dbname)
    if role is None or role == "admin":
        return admin
    if role not in LOGIN_ROLES:
        raise SpwError(f"unknown role {role!r}: choose one of admin, {', '.join(LOGIN_ROLES)}.")
    return pg.with_database(admin, dbname, user=role, password=role_password(role))


def connect(dbname: str = "warehouse", role: str | None = None, **kwargs) -> psycopg.Connection:
    try:
        return psycopg.connect(url(dbname, role), **kwargs)
    except psycopg.OperationalError as exc:
        raise SpwError(f"cannot connect to database {dbname!r} as {role or 'admin'}: {exc}".strip()) from exc


def roles_sql() -> str:
    return resources.files("spw").joinpath("sql/roles.sql").read_text()


def create_database_sql(name: str, owner: str | None = None) -> sql.Composed:
    """`create database` with collation C whatever the server's default (see pg.initdb): sorts of
    text keys (pseudonyms, ODS codes) are the build's largest cost."""
    stmt = sql.SQL("create database {} template template0 encoding 'UTF8' lc_collate 'C'").format(
        sql.Identifier(name))
    if owner:
        stmt += sql.SQL(" owner {}").format(sql.Identifier(owner))
    return stmt


def bootstrap() -> None:
    """Create databases and roles idempotently, and (re)set login passwords from secrets."""
    with connect("postgres", autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("select datname from pg_database")}
        for name in DATABASES_ORDER:
            if name not in existing:
                conn.execute(create_database_sql(name))
    with connect("warehouse", autocommit=True) as conn:
        conn.execute(roles_sql())
        for role in LOGIN_ROLES:
            conn.execute(
                sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(role_password(role)))
            )
    with connect("postgres", autocommit=True) as conn:
        for name, owner in DB_OWNERS.items():
            if owner:
                stmt = sql.SQL("alter database {} owner to {}")
                conn.execute(stmt.format(sql.Identifier(name), sql.Identifier(owner)))
    for name, owner in DB_OWNERS.items():
        if owner:
            with connect(name, autocommit=True) as conn:
                conn.execute(sql.SQL("alter schema public owner to {}").format(sql.Identifier(owner)))


DATABASES_ORDER = tuple(DB_OWNERS)
