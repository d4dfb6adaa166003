"""Code that runs inside Superset's own process, imported by `superset_config.py`.

Superset's venv (SQLAlchemy 1.4) has no `spw` package: these modules import only Superset, Flask and
SQLAlchemy, and everything else they need arrives in environment variables set by
`spw.superset.server.superset_env()`.
"""
