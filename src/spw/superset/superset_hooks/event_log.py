"""Superset's audit log with one row per request instead of one row and commit per internal step.

Superset's own logger wrote and committed a row for every step of a chart-data request (6 or 7), and
each commit expired the loaded user and dataset, so they were read again (docs/benchmarks.md#dashboards).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import g, has_app_context
from superset.utils.log import DBEventLogger


class RequestEventLogger(DBEventLogger):
    """Audit log with one row per request (the outermost event: who opened which chart, how long).

    Nested timing events (SQL execution, dataframe load, JSON encoding, ...) are not written.
    """

    @contextmanager
    def log_context(self, action: str, object_ref: str | None = None, log_to_statsd: bool = True,
                    **kwargs: Any) -> Iterator[Callable[..., None]]:
        if not has_app_context() or g.get("spw_event_open"):
            yield lambda **_: None
            return
        g.spw_event_open = True
        try:
            with super().log_context(action, object_ref, log_to_statsd, **kwargs) as log:
                yield log
        finally:
            g.spw_event_open = False
