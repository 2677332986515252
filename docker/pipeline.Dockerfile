# Pipeline image: Airflow 3.3, Cosmos, dbt 1.11, GX, and this project (simulator, ingestion, CLI).
FROM python:3.11-slim-bookworm
# the exports' PDF: WeasyPrint needs Pango; Chinese text needs the Noto CJK fonts
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv
WORKDIR /opt/phwarehouse
COPY requirements/pipeline.lock.txt requirements/
RUN uv pip install --system --no-cache --compile-bytecode -r requirements/pipeline.lock.txt
COPY pyproject.toml README.md ./
COPY src src
COPY dags dags
COPY dbt_project dbt_project
COPY expectations expectations
RUN uv pip install --system --no-cache --no-deps -e .
# GX Data Docs' scripts and styles, served at /data-docs/ without internet
RUN python -m phwarehouse.quality.docs_vendor fetch
ENV AIRFLOW_HOME=/opt/airflow
