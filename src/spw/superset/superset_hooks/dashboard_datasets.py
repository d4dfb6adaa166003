"""The datasets a dashboard's charts read (`GET /api/v1/dashboard/<id_or_slug>/datasets`), kept per
dashboard version and role set instead of built again on every open.

Every open of a dashboard asks for it: each dataset's columns, metrics, formats and database, trimmed
to what the dashboard's charts use. Building it loads every chart and dataset of the dashboard and
reads each chart's query context, about a sixth of the server's work for an open
(docs/benchmarks.md#dashboards). The answer does not depend on who asks: it holds no rows (row-level
security applies to chart-data, not here), no user's name or setting, and Superset hands the same
answer to every user it lets open the dashboard (guest tokens aside, which this deployment does not
issue). It is still kept per role set, so users of different roles never share an entry, and:

- the access check runs on every request, for the user asking, before anything kept is handed out
  (Superset's own `DashboardDAO.get_by_id_or_slug`: the dashboards filter and `raise_for_access`);
- an entry is keyed by the dashboard's version: the latest change and the count of the dashboard, its
  charts, their datasets, their columns and metrics, the datasets' owners and the databases (one
  metadata query), so a re-import or an edit is seen on the next request;
- an entry lives at most SPW_SUPERSET_DATASETS_CACHE_SECONDS (300) and at most 64 entries are kept per
  process; 0 turns the keeping off (Superset's own behaviour).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from typing import Any

SECONDS = float(os.environ.get("SPW_SUPERSET_DATASETS_CACHE_SECONDS", "300"))
MAX_ENTRIES = 64

_lock = threading.Lock()
_kept: OrderedDict[tuple, tuple[float, list[dict[str, Any]]]] = OrderedDict()

# Everything the answer is built from, for one dashboard: a change or a deletion anywhere moves a
# latest change or a count.
VERSION_SQL = """
with charts as (
    select s.id, s.datasource_id, s.changed_on from dashboard_slices ds join slices s on s.id = ds.slice_id
    where ds.dashboard_id = :dashboard_id
), datasets as (
    select t.id, t.changed_on, t.database_id from tables t where t.id in (select datasource_id from charts)
)
select d.changed_on,
       (select count(*)::text || '/' || coalesce(max(changed_on)::text, '') from charts),
       (select string_agg(id::text, ',' order by id) || '/' || coalesce(max(changed_on)::text, '') from datasets),
       (select count(*)::text || '/' || coalesce(max(c.changed_on)::text, '')
          from table_columns c where c.table_id in (select id from datasets)),
       (select count(*)::text || '/' || coalesce(max(m.changed_on)::text, '')
          from sql_metrics m where m.table_id in (select id from datasets)),
       (select string_agg(o.table_id::text || ':' || o.user_id::text, ',' order by o.table_id, o.user_id)
          from sqlatable_user o where o.table_id in (select id from datasets)),
       (select string_agg(b.id::text || '@' || b.changed_on::text, ',' order by b.id)
          from dbs b where b.id in (select database_id from datasets))
from dashboards d where d.id = :dashboard_id
"""


def _version(dashboard_id: int) -> tuple:
    from sqlalchemy import text
    from superset.extensions import db

    return tuple(db.session.execute(text(VERSION_SQL), {"dashboard_id": dashboard_id}).fetchone() or ())


def datasets_for_dashboard(id_or_slug: str) -> list[dict[str, Any]]:
    """DashboardDAO.get_datasets_for_dashboard, kept per (dashboard, version, role set)."""
    from superset import security_manager
    from superset.daos.dashboard import DashboardDAO

    dashboard = DashboardDAO.get_by_id_or_slug(id_or_slug)  # the access check, for this user, every time
    if SECONDS <= 0:
        return dashboard.datasets_trimmed_for_slices()
    roles = tuple(sorted(r.id for r in security_manager.get_user_roles()))
    key = (dashboard.id, roles, _version(dashboard.id))
    now = time.monotonic()
    with _lock:
        hit = _kept.get(key)
        if hit is not None and now - hit[0] < SECONDS:
            _kept.move_to_end(key)
            return hit[1]
    result = dashboard.datasets_trimmed_for_slices()
    with _lock:
        _kept[key] = (now, result)
        while len(_kept) > MAX_ENTRIES:
            _kept.popitem(last=False)
    return result


def install() -> None:
    """Route Superset's dashboard datasets look-up through the kept answers (FLASK_APP_MUTATOR)."""
    from superset.daos.dashboard import DashboardDAO

    DashboardDAO.get_datasets_for_dashboard = staticmethod(datasets_for_dashboard)
