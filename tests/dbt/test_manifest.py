"""The dbt project parses, and its nodes fit Airflow's limits when Cosmos renders them.

Cosmos's watcher mode stores each node's status in an XCom keyed by the node's unique id;
Airflow's XCom key is 512 characters, so long generated test names must get a `name:`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
DUMMY_ENV = {
    "WAREHOUSE_HOST": "127.0.0.1",
    "WAREHOUSE_PORT": "5432",
    "WAREHOUSE_DB": "warehouse",
    "WAREHOUSE_TRANSFORMER_USER": "u",
    "WAREHOUSE_TRANSFORMER_PASSWORD": "p",
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("dbt_target")
    dbt = Path(sys.prefix) / "bin" / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "parse",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
        ],
        env={**os.environ, **DUMMY_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text())


def test_node_ids_fit_airflow_xcom_keys(manifest: dict) -> None:
    too_long = [n for n in manifest["nodes"] if len(n) > 200]
    assert too_long == []


def test_every_mart_is_contracted_and_documented(manifest: dict) -> None:
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    ]
    assert marts
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        assert node["description"], node["name"]
        for column in node["columns"].values():
            assert column["description"], f"{node['name']}.{column['name']}"


def test_primary_keys_of_marts_are_tested_unique_and_not_null(manifest: dict) -> None:
    tests_by_model: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata"):
            for dep in node["depends_on"]["nodes"]:
                tests_by_model.setdefault(dep, set()).add(node["test_metadata"]["name"])
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "model" and node["fqn"][1] == "marts":
            assert {"unique", "not_null"} <= tests_by_model.get(uid, set()), node["name"]
