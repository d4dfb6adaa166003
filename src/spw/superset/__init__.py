"""Superset: settings, server lifecycle, dashboards-as-code bundle, roles and row-level security."""
