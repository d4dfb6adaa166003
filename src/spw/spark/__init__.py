"""The warehouse on Spark: one local session (dbt-spark `session` method) for loading and dbt.

Runs in the spark venv (requirements/spark.lock); nothing here is imported by the Postgres path.
"""
