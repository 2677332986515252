"""A new day's cut-off costs dbt no parsing, and the models still run with it.

The pipeline gives each run its data cut-off in PHW_DATA_CUTOFF_DATE (the default of the var
`data_cutoff_date`). dbt re-parses every file that read a changed environment variable while it
was parsed, so the models read the cut-off through the macro `data_cutoff_date()`, which reads
it only when dbt runs (or compiles) a node.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.conftest import run_dbt
from tests.dbt.test_manifest import DUMMY_ENV as PARSE_ENV

CUTOFF_MODELS = (
    "dashboard_publication",
    "fct_reporting_completeness",
    "int_persons",
    "int_reporting_periods",
    "int_service_records",
)


def _parse(target: Path, cutoff: str, env: dict[str, str]) -> str:
    """dbt's debug log lines of one `dbt parse` with this cut-off."""
    log = target / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    result = run_dbt(
        "parse",
        "--log-level-file",
        "debug",
        target=target,
        env={**env, "PHW_DATA_CUTOFF_DATE": cutoff},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return log.read_text(encoding="utf-8")


def test_a_changed_cutoff_reparses_no_file(tmp_path: Path) -> None:
    _parse(tmp_path, "2026-03-01", PARSE_ENV)
    log = _parse(tmp_path, "2026-03-02", PARSE_ENV)
    assert "Partial parsing enabled, no changes found, skipping parsing" in log, log[-3000:]


@pytest.mark.warehouse
def test_models_compile_with_the_cutoff_of_the_run_not_of_the_parse(
    warehouse_settings, tmp_path: Path
) -> None:
    env = warehouse_settings.warehouse_env()
    _parse(tmp_path, "2026-03-01", env)
    result = run_dbt(
        "compile",
        "--select",
        *CUTOFF_MODELS,
        target=tmp_path,
        env={**env, "PHW_DATA_CUTOFF_DATE": "2026-03-02"},
    )
    assert result.returncode == 0, result.stdout[-3000:]
    compiled = {p.stem: p.read_text() for p in (tmp_path / "compiled").rglob("*.sql")}
    for model in CUTOFF_MODELS:
        dates = set(re.findall(r"'(\d{4}-\d{2}-\d{2})'", compiled[model]))
        assert "2026-03-02" in dates, (model, dates)
        assert dates <= {"2026-03-02"}, (model, dates)  # not the parse's date, nor a stand-in
