"""Stub of dbt's `exceptions` Jinja namespace for sqlfluff's jinja templater (lint only)."""


def raise_compiler_error(msg: str) -> str:
    """Lint-time stand-in: dbt raises; sqlfluff only needs the call to render."""
    return ""


def warn(msg: str) -> str:
    """Lint-time stand-in for exceptions.warn."""
    return ""
