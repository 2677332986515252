"""dbt targets (issue #13, "Environments"): `prod` for the pipeline, `dev` for people, `ci` for
the tests (dbt_project/profiles.yml, macros/generate_schema_name.sql).

- prod: schema names verbatim, the marts into `marts_candidate` unless the run says otherwise
  (the quality gate publishes `marts`), and none of the CI-only macro harnesses
  (models/intermediate/macro_checks) nor a unit or data test of them;
- dev (the default): every schema prefixed with the target schema, never a production name;
- ci: verbatim names like prod, with the harnesses and their tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.conftest import DBT_DIR, TEST_DBT_TARGET, run_dbt
from tests.dbt.test_manifest import DUMMY_ENV as PARSE_ENV

from phwarehouse.settings import DBT_TARGET

DUMMY_ENV = {**PARSE_ENV, "WAREHOUSE_DEV_SCHEMA": "dev"}  # the profile's default prefix
HARNESS_FOLDER = ("intermediate", "macro_checks")
PRODUCTION_SCHEMAS = {
    "raw",
    "ops",
    "staging",
    "intermediate",
    "marts",
    "marts_candidate",
    "marts_previous",
    "reference",
    "quality",
    "keyring",
    "snapshots",
    "analytics",
    "public",
}


def _parse(tmp_path_factory, dbt_target: str, **env: str) -> dict:
    target = tmp_path_factory.mktemp(f"dbt_{dbt_target}")
    result = run_dbt("parse", target=target, env={**DUMMY_ENV, **env}, dbt_target=dbt_target)
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text())


@pytest.fixture(scope="module")
def prod(tmp_path_factory) -> dict:
    return _parse(tmp_path_factory, DBT_TARGET)


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> dict:
    return _parse(tmp_path_factory, "dev")


@pytest.fixture(scope="module")
def ci(tmp_path_factory) -> dict:
    return _parse(tmp_path_factory, TEST_DBT_TARGET)


def _enabled(manifest: dict) -> list[dict]:
    """Every node dbt would run: models, seeds, data tests, unit tests (not disabled ones)."""
    nodes = [*manifest["nodes"].values(), *manifest["unit_tests"].values()]
    return [n for n in nodes if n["config"].get("enabled", True)]


def _relations(manifest: dict) -> list[dict]:
    """The nodes that create a relation (models and seeds)."""
    return [n for n in _enabled(manifest) if n["resource_type"] in {"model", "seed", "snapshot"}]


def _harness_ids(manifest: dict) -> set[str]:
    return {
        n["unique_id"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and tuple(n["fqn"][1:3]) == HARNESS_FOLDER
    }


def _touches_harness(node: dict, harness: set[str]) -> bool:
    """A node that is a harness, depends on one, or tests one (data or unit test)."""
    if node["unique_id"] in harness:
        return True
    if set(node.get("depends_on", {}).get("nodes", [])) & harness:
        return True
    if node.get("attached_node") in harness:
        return True
    model = node.get("model")  # unit tests name their model
    return bool(model) and any(h.endswith(f".{model}") for h in harness)


def test_profile_targets_and_default() -> None:
    profile = yaml.safe_load((DBT_DIR / "profiles.yml").read_text())["public_health"]
    assert profile["target"] == "dev", "a hand-typed `dbt build` must not write production"
    assert set(profile["outputs"]) == {"dev", "prod", "ci"}
    assert DBT_TARGET == "prod" and TEST_DBT_TARGET == "ci"


def test_ci_builds_the_macro_harnesses_and_their_tests(ci: dict) -> None:
    harness = _harness_ids(ci)
    assert len(harness) == 3, harness
    kinds = {n["resource_type"] for n in _enabled(ci) if _touches_harness(n, harness)}
    assert kinds == {"model", "test", "unit_test"}


def test_prod_has_no_macro_harness_nor_anything_that_needs_one(prod: dict, ci: dict) -> None:
    ci_harness = _harness_ids(ci)
    assert _harness_ids(prod) == set()
    leaks = [n["unique_id"] for n in _enabled(prod) if _touches_harness(n, ci_harness)]
    assert leaks == []
    # and nothing else went missing: prod runs every other node that ci runs
    ci_ids = {n["unique_id"] for n in _enabled(ci) if not _touches_harness(n, ci_harness)}
    assert ci_ids == {n["unique_id"] for n in _enabled(prod)}


def test_prod_and_ci_use_schema_names_verbatim(prod: dict, ci: dict) -> None:
    assert {n["schema"] for n in _relations(prod)} == {
        "staging",
        "intermediate",
        "marts_candidate",  # no marts_schema var: the candidate, never the published marts
        "reference",
    }
    assert {n["schema"] for n in _relations(ci)} == {
        "staging",
        "intermediate",
        "marts",
        "reference",
    }


def test_prod_marts_follow_the_marts_schema_var(tmp_path_factory) -> None:
    """The key rotation's rebuild passes marts_schema: marts (manage.run_dbt, person_key)."""
    target = tmp_path_factory.mktemp("dbt_prod_marts")
    result = run_dbt(
        "parse",
        "--vars",
        "{marts_schema: marts}",
        target=target,
        env=DUMMY_ENV,
        dbt_target=DBT_TARGET,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    parsed = json.loads((target / "manifest.json").read_text())
    marts = {n["schema"] for n in _relations(parsed) if n["fqn"][1] == "marts"}
    assert marts == {"marts"}


def test_dev_prefixes_every_schema(dev: dict) -> None:
    nodes = _enabled(dev)
    assert _harness_ids(dev), "dev keeps the macro harnesses (a developer runs their tests)"
    schemas = {n["schema"] for n in nodes}
    assert schemas & PRODUCTION_SCHEMAS == set()
    assert all(s.startswith("dev_") for s in schemas), sorted(schemas)
    assert {n["schema"] for n in _relations(dev)} == {
        "dev_staging",
        "dev_intermediate",
        "dev_marts",
        "dev_reference",
    }


def test_dev_refuses_a_production_schema_as_prefix(tmp_path: Path) -> None:
    env = {**DUMMY_ENV, "WAREHOUSE_DEV_SCHEMA": "marts"}
    result = run_dbt("parse", target=tmp_path, env=env, dbt_target="dev")
    assert result.returncode != 0
    assert "is a production schema" in result.stdout
