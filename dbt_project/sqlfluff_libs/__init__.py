"""Lint-time stand-ins for dbt's Jinja context, for sqlfluff's jinja templater (see .sqlfluff).

sqlfluff exposes this package's public names in the template context, ahead of its own dbt
builtins. Its builtin `var()` returns a placeholder string, so a model doing arithmetic on a var
(`var('facility_report_due_day') - 1`) fails to render; `var()` here returns the project's own
values from dbt_project.yml (the defaults dbt uses), so the linted SQL is the SQL dbt compiles,
but for the data cut-off: `execute` is undefined here, so the macro data_cutoff_date() renders
its parse-time stand-in date. Nothing here runs in dbt.
"""

import datetime as _datetime
import functools as _functools
import os as _os
import pathlib as _pathlib
import types as _types

import jinja2 as _jinja2
import yaml as _yaml

_PROJECT_FILE = _pathlib.Path(__file__).resolve().parent.parent / "dbt_project.yml"
_NO_DEFAULT = object()


@_functools.cache
def _project_vars() -> dict:
    project = _yaml.safe_load(_PROJECT_FILE.read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def _env_var(name, default=_NO_DEFAULT):
    """dbt's env_var(): the environment's value, else the default given in the call."""
    if name in _os.environ:
        return _os.environ[name]
    if default is not _NO_DEFAULT:
        return default
    raise KeyError(f"env_var({name!r}) is not set and has no default")


def _render(value):
    """A var written as Jinja (data_cutoff_date's "today") rendered as dbt would."""
    if isinstance(value, str) and "{{" in value:
        modules = _types.SimpleNamespace(datetime=_datetime)
        template = _jinja2.Environment().from_string(value)
        return template.render(modules=modules, env_var=_env_var)
    return value


def var(name, default=_NO_DEFAULT):
    """dbt's var(): the project's value, else the default given in the call."""
    project_vars = _project_vars()
    if name in project_vars:
        return _render(project_vars[name])
    if default is not _NO_DEFAULT:
        return default
    raise KeyError(f"var({name!r}) is not set in dbt_project.yml and has no default")
