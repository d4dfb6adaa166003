# Airflow + ingestion (venv A) and dbt (venv B) from the committed locks.
FROM python:3.11-slim-bookworm
RUN pip install --no-cache-dir uv && useradd --create-home spw
WORKDIR /opt/spw
COPY requirements/ requirements/
RUN uv venv /opt/venvs/airflow && VIRTUAL_ENV=/opt/venvs/airflow uv pip sync requirements/airflow.lock \
 && uv venv /opt/venvs/dbt && VIRTUAL_ENV=/opt/venvs/dbt uv pip sync requirements/dbt.lock
COPY pyproject.toml ./
COPY src/ src/
COPY dags/ dags/
COPY dbt_project/ dbt_project/
COPY expectations/ expectations/
RUN VIRTUAL_ENV=/opt/venvs/airflow uv pip install --no-deps -e .
ENV PATH=/opt/venvs/airflow/bin:$PATH SPW_VENVS=/opt/venvs \
    AIRFLOW_HOME=/var/lib/spw/airflow AIRFLOW__CORE__DAGS_FOLDER=/opt/spw/dags
USER spw
