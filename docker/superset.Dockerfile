# Superset 6.1 in its own environment (SQLAlchemy < 2, pandas < 2.2).
FROM python:3.11-slim-bookworm
RUN pip install --no-cache-dir uv
COPY requirements/superset.lock.txt /tmp/
RUN uv pip install --system --no-cache --compile-bytecode -r /tmp/superset.lock.txt
COPY superset /opt/superset
# the dashboards' importer (phwarehouse.dashboards.superset_apply), without the pipeline's deps
COPY pyproject.toml README.md /opt/phw/
COPY src /opt/phw/src
RUN uv pip install --system --no-cache --no-deps /opt/phw
ENV SUPERSET_CONFIG_PATH=/opt/superset/superset_config.py FLASK_APP=superset
