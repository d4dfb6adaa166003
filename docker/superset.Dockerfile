# Superset 6.1 (venv C) from the committed lock, configured by the project's superset_config.py.
FROM python:3.11-slim-bookworm
RUN pip install --no-cache-dir uv && useradd --create-home superset
COPY requirements/superset.lock /tmp/superset.lock
RUN uv venv /opt/venvs/superset && VIRTUAL_ENV=/opt/venvs/superset uv pip sync /tmp/superset.lock
COPY src/spw/superset/superset_config.py /app/spw/superset_config.py
COPY src/spw/superset/superset_hooks/ /app/spw/superset_hooks/
COPY dashboards/ /app/dashboards/
ENV PATH=/opt/venvs/superset/bin:$PATH
USER superset
EXPOSE 8088
CMD ["gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "-b", "0.0.0.0:8088", "superset.app:create_app()"]
