"""The GX project in expectations/ is what phwarehouse.quality.checks declares, and loads in GX."""

from __future__ import annotations

import json
import shutil

from phwarehouse.quality import checks, gx_project
from phwarehouse.quality.gate import CHECKPOINT, PROJECT_DIR


def test_committed_gx_project_equals_the_rendering() -> None:
    for rel, content in gx_project.render_files().items():
        path = PROJECT_DIR / rel
        assert path.exists(), f"{rel} missing: run python -m phwarehouse.quality render"
        assert path.read_text(encoding="utf-8") == content, f"{rel} differs from the rendering"


def test_every_check_has_kind_severity_threshold_and_formats_for_gx() -> None:
    all_checks = checks.all_checks()
    assert {c.kind for c in all_checks} == set(checks.KINDS)
    assert {c.severity for c in all_checks} == {"error", "warning"}
    for check in all_checks:
        assert check.threshold and check.description, check.name
        query = check.gx_query.format(batch="(select 1)")  # what GX does with {batch}
        assert "{" not in query.replace("{17}", "").replace("{15}", "").replace("{9}", "").replace(
            "{4}", ""
        ), check.name


def test_no_secret_in_the_gx_project() -> None:
    text = (PROJECT_DIR / "gx" / "great_expectations.yml").read_text()
    assert "connection_string: ${PHW_GX_WAREHOUSE_URL}" in text
    assert "password" not in text.lower()


def test_gx_loads_the_project_and_its_checkpoint(tmp_path, monkeypatch) -> None:
    import great_expectations as gx

    shutil.copytree(PROJECT_DIR, tmp_path / "expectations")
    monkeypatch.setenv("PHW_GX_WAREHOUSE_URL", "postgresql+psycopg://u:p@127.0.0.1:1/none")
    context = gx.get_context(mode="file", project_root_dir=str(tmp_path / "expectations"))
    checkpoint = context.checkpoints.get(CHECKPOINT)
    names = {v.name for v in checkpoint.validation_definitions}
    assert names == {"raw_load", "candidate_marts"}
    suite = context.suites.get("candidate_marts")
    metas = [e.meta["check"] for e in suite.expectations]
    assert "marts_no_personal_data" in metas
    raw = json.loads((PROJECT_DIR / "gx/expectations/raw_load.json").read_text())
    severities = {e["meta"]["check"]: e["severity"] for e in raw["expectations"]}
    assert severities["raw_implausible_bp_share"] == "critical"
    assert severities["raw_dates_after_cutoff"] == "warning"
