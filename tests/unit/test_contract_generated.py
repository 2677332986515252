"""The files generated from the platform contract (phwarehouse.contract) are up to date, and the
contract's plausibility ranges are the dbt project's."""

from __future__ import annotations

from pathlib import Path

import yaml

from phwarehouse.contract import ENTITIES, generate

ROOT = Path(__file__).resolve().parents[2]


def test_generated_files_are_current():
    stale = generate.stale(ROOT)
    assert stale == [], f"stale: {stale}; run `{generate.COMMAND}`"


def test_every_plausibility_range_is_a_dbt_var():
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text("utf-8"))
    ranges = {f.plausibility for e in ENTITIES.values() for f in e.fields if f.plausibility}
    assert {"sbp", "dbp", "fbg", "weight_kg"} <= ranges
    for name in ranges:
        assert f"plausible_{name}_min" in project["vars"], name
        assert f"plausible_{name}_max" in project["vars"], name


def test_measurements_are_numbers_and_identifiers_text():
    for entity in ENTITIES.values():
        for f in entity.fields:
            assert not f.plausibility or f.measurement, (entity.name, f.name)
            assert not f.measurement or f.type in ("integer", "number"), (entity.name, f.name)
            assert not f.personal or f.type == "string", (entity.name, f.name)
