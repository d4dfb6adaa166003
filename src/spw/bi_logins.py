"""The warehouse logins the BI tool uses, one per NHS England region plus a national one.

Postgres row-level security on every published table (dbt macro `region_row_security`, roles in
`src/spw/sql/roles.sql`) lets a region's login read its own region's rows and England's; the national
login reads every row; the no-rows login reads none. None of them is a member of another role, so
no `set role` can move a session from one region to another. Superset picks the login per user
(`superset_hooks.warehouse_logins`).
"""

from __future__ import annotations

# NHS England regions (ODS codes), as in roles.sql and the dbt variable `nhs_region_codes`.
REGION_CODES = ("Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63")
NATIONAL_LOGIN = "spw_bi_reader"  # NHS England, ICB analysts, Superset admins: every region
NO_ROWS_LOGIN = "spw_bi_no_rows"  # a Superset user with no data role: default deny in the database too


def region_login(code: str) -> str:
    """`Y60` -> `spw_bi_region_y60`."""
    if code not in REGION_CODES:
        raise ValueError(f"not an NHS England region code: {code!r}")
    return f"spw_bi_region_{code.lower()}"


REGION_LOGINS = tuple(region_login(code) for code in REGION_CODES)
BI_LOGINS = (NATIONAL_LOGIN, *REGION_LOGINS, NO_ROWS_LOGIN)
