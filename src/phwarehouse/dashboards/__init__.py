"""The commission's Superset dashboards as code.

`catalog` declares the datasets, charts and dashboards once; `bundle` renders them into the
Superset 6.1 import bundle under `superset/assets/` (committed, reviewable); `superset_apply`
runs inside Superset's venv and imports the bundle and the access configuration
(`superset/access.yml`: roles, users, row-level security); `importer` is what `make run` calls.
"""
