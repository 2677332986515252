"""docker-compose.yml describes the same topology and configuration as the local stack.

No Docker engine runs here, so the file is parsed and compared with what `phw up` uses.
"""

from pathlib import Path

import pytest
import yaml

from phwarehouse.settings import load_settings
from phwarehouse.stack.airflow_service import COMPONENTS, airflow_env
from phwarehouse.stack.superset_service import superset_env

ROOT = Path(__file__).resolve().parents[2]
# Values that differ by design between a container network and the loopback stack.
HOST_SPECIFIC = {
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__COSMOS__CACHE_DIR",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> dict:
    settings = load_settings(tmp_path_factory.mktemp("home"), {})
    return {"airflow": airflow_env(settings), "superset": superset_env(settings), "s": settings}


def test_same_services(compose: dict) -> None:
    services = set(compose["services"])
    assert {f"airflow-{c}" for c in COMPONENTS} <= services
    assert {"postgres", "superset", "platform"} <= services


def test_airflow_configuration_agrees(compose: dict, local: dict) -> None:
    ours = {k: v for k, v in local["airflow"].items() if k.startswith("AIRFLOW__")}
    for component in COMPONENTS:
        theirs = compose["services"][f"airflow-{component}"]["environment"]
        assert set(ours) == {k for k in theirs if k.startswith("AIRFLOW__")}, component
        for key, value in ours.items():
            if key not in HOST_SPECIFIC:
                assert str(theirs[key]) == value, key


def test_tasks_get_the_same_warehouse_variables(compose: dict, local: dict) -> None:
    wanted = set(local["s"].warehouse_env())
    for name in ("airflow-scheduler", "airflow-api-server", "platform"):
        assert wanted <= set(compose["services"][name]["environment"]), name


def test_ports_match_the_local_defaults(compose: dict, local: dict) -> None:
    s = local["s"]
    published = {
        name: int(svc["ports"][0].split(":")[-1])
        for name, svc in compose["services"].items()
        if svc.get("ports")
    }
    assert published == {
        "airflow-api-server": s.airflow_port,
        "superset": s.superset_port,
        "platform": s.platform_port,
    }


def test_superset_reads_the_same_variables(compose: dict, local: dict) -> None:
    theirs = compose["services"]["superset"]["environment"]
    for key in ("SUPERSET_SECRET_KEY", "SUPERSET_DATABASE_URI", "SUPERSET_HOME"):
        assert key in theirs and key in local["superset"]


ONE_SHOT = {"provision", "airflow-init", "superset-init"}


def test_long_running_services_restart_and_publish_on_loopback(compose: dict) -> None:
    """Docker restarts a service that exits (issue #9, item 5); published ports bind
    127.0.0.1 unless PHW_PUBLISH_ADDRESS says otherwise (item 6)."""
    for name, svc in compose["services"].items():
        if name in ONE_SHOT:
            assert "restart" not in svc, name
            continue
        assert svc.get("restart") in ("unless-stopped", "always"), name
        for port in svc.get("ports", []):
            assert port.startswith("${PHW_PUBLISH_ADDRESS:-127.0.0.1}:"), (name, port)


def test_only_provisioning_gets_the_person_key(compose: dict, local: dict) -> None:
    """The pseudonymisation key is stored in the warehouse by `phw provision`; dbt, Airflow
    and every other service work without it (issue #9)."""
    holders = {
        name
        for name, svc in compose["services"].items()
        if "PERSON_KEY_SECRET" in (svc.get("environment") or {})
    }
    assert holders == {"provision"}
    assert "PERSON_KEY_SECRET" not in local["airflow"]
    assert "PERSON_KEY_SECRET" not in local["s"].warehouse_env()


def test_airflow_init_creates_the_same_users(compose: dict) -> None:
    """The compose init creates admin / operator / viewer like the local stack, with each
    password from the environment (issue #9: FAB auth manager, one user per role)."""
    from phwarehouse.stack import airflow_users

    init = compose["services"]["airflow-init"]
    assert "phwarehouse.stack.airflow_users" in " ".join(init["command"])
    for user in airflow_users.USERS:
        assert airflow_users.password_variable(user) in init["environment"], user


def test_airflow_runs_dbt_with_the_pipelines_target(compose: dict, local: dict) -> None:
    """Target prod (verbatim schemas, no macro harnesses) in the containers as in `phw up`."""
    from phwarehouse.settings import DBT_TARGET

    assert local["airflow"]["DBT_TARGET"] == DBT_TARGET == "prod"
    for component in COMPONENTS:
        environment = compose["services"][f"airflow-{component}"]["environment"]
        assert environment["DBT_TARGET"] == DBT_TARGET, component
