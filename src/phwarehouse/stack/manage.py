"""Bring the local stack up, down, and report its status."""

from __future__ import annotations

from collections.abc import Callable

from phwarehouse.settings import DBT_TARGET, Settings
from phwarehouse.stack import airflow_service, pgcluster, private, processes, superset_service
from phwarehouse.stack.processes import Service

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def start_database(settings: Settings, say: Say = _quiet) -> None:
    """Initialise and start the local cluster (unless an external server is configured)."""
    if settings.pg.local:
        if pgcluster.init_cluster(settings):
            say(f"initialised PostgreSQL cluster in {settings.pgdata}")
        if pgcluster.start(settings):
            say(f"started PostgreSQL on 127.0.0.1:{settings.pg.port}")
    from phwarehouse.stack.provision import provision

    for notice in provision(settings):
        say(notice)
    say("databases, roles and grants are in place")


def platform_service(settings: Settings) -> Service:
    """The platform simulator's HTTP API, serving the generated demo district."""
    import os

    python = str(settings.venv_pipeline / "bin" / "python")
    return Service(
        "platform",
        [
            python,
            "-m",
            "phwarehouse.platform",
            "serve",
            "--data",
            str(settings.platform_data_dir),
            "--port",
            str(settings.platform_port),
        ],
        # the token goes by environment: not visible in `ps`, and a secret starting with "-"
        # is not mistaken for an option
        {**os.environ, "PLATFORM_API_TOKEN": settings.get("PLATFORM_API_TOKEN")},
        port=settings.platform_port,
        health_url=f"{settings.platform_url}/health",
    )


def run_dbt(settings: Settings, *args: str) -> None:
    """Run dbt on the project as the transformer, target prod (the pipeline's: verbatim schema
    names, no macro harnesses), with umask 077: dbt_project/target and logs (manifest, partial
    parse, compiled SQL) are readable by this user only."""
    import os
    import subprocess

    project = settings.root / "dbt_project"
    result = subprocess.run(
        [
            str(settings.venv_pipeline / "bin" / "dbt"),
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            DBT_TARGET,
        ],
        env={**os.environ, **settings.warehouse_env()},
        capture_output=True,
        text=True,
        check=False,
        umask=0o077,
    )
    for folder in (project / "target", project / "logs"):
        if folder.is_dir():
            folder.chmod(0o700)
    if result.returncode != 0:
        raise RuntimeError(f"dbt {args[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")


def dbt_parse(settings: Settings) -> None:
    """Write dbt_project/target/manifest.json, from which Cosmos renders the transform DAG."""
    run_dbt(settings, "parse")


def up(settings: Settings, say: Say = _quiet, superset: bool = True) -> None:
    """Start every service of the stack; already running ones are left alone."""
    start_database(settings, say)
    # the home holds credentials, logs and personal data: this user only (the cluster's owner
    # may traverse it when its data directory is inside)
    private.private_home(settings.home, pgcluster.owner_lives_in_home(settings))
    dbt_parse(settings)
    say("dbt project parsed (manifest for Cosmos)")
    airflow_service.init(settings)
    say("Airflow metadata database migrated")
    for folder in (settings.log_dir, settings.airflow_home):  # `db migrate` made airflow/logs
        private.make_private(folder)
    airflow = airflow_service.services(settings)
    for svc in airflow:
        if processes.start(settings, svc):
            say(f"started {svc.name}")
    if superset:
        superset_service.init(settings)
        say("Superset metadata, admin user and warehouse database registered")
        svc = superset_service.service(settings)
        if processes.start(settings, svc):
            say(f"started {svc.name}")
        processes.wait_healthy(settings, svc, timeout=240)
    for svc in airflow:
        processes.wait_healthy(settings, svc, timeout=240)
    say("all services answer")


def down(settings: Settings, say: Say = _quiet) -> None:
    """Stop every recorded service, then the local cluster."""
    for name in processes.recorded_services(settings):
        if processes.stop(settings, name):
            say(f"stopped {name}")
    if settings.pg.local and pgcluster.stop(settings):
        say("stopped PostgreSQL")


def status(settings: Settings) -> list[tuple[str, str, str]]:
    """(service, state, where) rows for `make status`."""
    rows: list[tuple[str, str, str]] = []
    if settings.pg.local:
        state = "running" if pgcluster.is_running(settings) else "stopped"
        rows.append(("postgresql", state, f"127.0.0.1:{settings.pg.port} ({settings.pgdata})"))
    else:
        rows.append(("postgresql", "external", f"{settings.pg.host}:{settings.pg.port}"))
    where = {
        "airflow-api-server": settings.airflow_url,
        "superset": settings.superset_url,
        "platform": settings.platform_url,
    }
    known = [s.name for s in airflow_service.services(settings)] + ["superset", "platform"]
    for name in known:
        rows.append((name, _service_state(settings, name), where.get(name, "")))
    return rows


def _service_state(settings: Settings, name: str) -> str:
    """running (pid …, restarted n×) / restarting (last exit …) / stopped."""
    supervisor = processes.read_pid(settings, name)
    if not supervisor:
        return "stopped"
    state = processes.read_state(settings, name)
    restarted = f", restarted {state['restarts']}x" if state.get("restarts") else ""
    child = processes.service_pid(settings, name)
    if child:
        return f"running (pid {child}{restarted})"
    if state:
        return f"restarting (exit {state.get('last_exit')}{restarted})"
    return f"running (pid {supervisor})"
