"""Row-for-row comparison of the marts and published tables with a snapshot (not a test).

    python benchmarks/compare_marts.py snapshot before   # marts.*, published.* -> before_marts, before_published
    (rebuild the warehouse with other code on the same raw data)
    python benchmarks/compare_marts.py compare before    # every table: rows in one and not the other, both ways

Uses the warehouse of $SPW_HOME (or SPW_DATABASE_URL) as the admin role. A table matches when
`except all` is empty both ways over the snapshot's columns, in the snapshot's order, with the same
names and types; a table in only one of the two is reported too. Exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import sys

from psycopg import sql

from spw import db

SCHEMAS = ("marts", "published")


def tables(conn, schema: str) -> list[str]:
    rows = conn.execute("select table_name from information_schema.tables where table_schema = %s "
                        "and table_type = 'BASE TABLE' order by 1", (schema,)).fetchall()
    return [r[0] for r in rows]


def columns(conn, schema: str, table: str) -> list[tuple[str, str]]:
    return conn.execute("select column_name, data_type from information_schema.columns where table_schema = %s "
                        "and table_name = %s order by ordinal_position", (schema, table)).fetchall()


def snapshot(conn, prefix: str) -> None:
    for schema in SCHEMAS:
        copy = f"{prefix}_{schema}"
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(copy)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(copy)))
        for t in tables(conn, schema):
            conn.execute(sql.SQL("create table {}.{} as select * from {}.{}").format(
                sql.Identifier(copy), sql.Identifier(t), sql.Identifier(schema), sql.Identifier(t)))
        print(f"{schema} -> {copy}: {len(tables(conn, copy))} tables")


def except_all(conn, left: tuple[str, str], right: tuple[str, str], cols: list[str]) -> int:
    names = sql.SQL(", ").join(map(sql.Identifier, cols))
    query = sql.SQL("select count(*) from (select {c} from {l} except all select {c} from {r}) as d").format(
        c=names, l=sql.Identifier(*left), r=sql.Identifier(*right))
    return conn.execute(query).fetchone()[0]


def compare(conn, prefix: str) -> int:
    differences = 0
    for schema in SCHEMAS:
        copy = f"{prefix}_{schema}"
        old, new = set(tables(conn, copy)), set(tables(conn, schema))
        for t in sorted(old | new):
            if t not in new or t not in old:
                print(f"{schema}.{t}: only in {copy if t in old else schema}")
                differences += t in old  # a table the new build adds is listed, not a difference
                continue
            old_cols, new_cols = columns(conn, copy, t), columns(conn, schema, t)
            if old_cols != new_cols:
                print(f"{schema}.{t}: columns differ\n  {copy}: {old_cols}\n  {schema}: {new_cols}")
                differences += 1
                continue
            cols = [c for c, _ in old_cols]
            gone = except_all(conn, (copy, t), (schema, t), cols)
            added = except_all(conn, (schema, t), (copy, t), cols)
            n = conn.execute(sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(t))).fetchone()[0]
            status = "identical" if gone == added == 0 else "DIFFERENT"
            print(f"{schema}.{t}: {n} rows, {gone} only in {copy}, {added} only in {schema}: {status}")
            differences += status != "identical"
    print(f"{differences} table(s) differ")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("snapshot", "compare"))
    parser.add_argument("prefix", help="snapshot schemas are <prefix>_marts and <prefix>_published")
    args = parser.parse_args(argv)
    with db.connect("warehouse", autocommit=True) as conn:
        if args.action == "snapshot":
            snapshot(conn, args.prefix)
            return 0
        return compare(conn, args.prefix)


if __name__ == "__main__":
    sys.exit(main())
