"""`phw`: the operator's command line for the local stack and the pipeline."""

from __future__ import annotations

import argparse
import os
import sys
import time

from phwarehouse.settings import Settings, load_settings


def _say(message: str) -> None:
    print(f"[phw {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _print_where(settings: Settings) -> None:
    print()
    print("Where to look")
    print(f"  Airflow   {settings.airflow_url}   users admin, operator, viewer")
    print(f"  Superset  {settings.superset_url}   user admin (dashboards: 总览 at")
    print(f"            {settings.superset_url}/superset/dashboard/overview/; example users of")
    print("            every level in superset/access.yml, see README 'The dashboards')")
    print(f"  Platform  {settings.platform_url}   (simulated public health platform API)")
    pg = settings.pg
    print(f"  Warehouse postgresql://{pg.host}:{pg.port}/{settings.warehouse_db}")
    if pg.local:
        from phwarehouse.stack import pgcluster

        print(f"  PG data   {settings.pgdata}")
        if pgcluster.is_outside(settings):
            print(
                f"            (outside the checkout: the cluster's owner {pgcluster.PG_OS_USER}"
                f" cannot reach {settings.home})"
            )
    print(f"  Passwords {settings.credentials_file}")
    print(f"  Logs      {settings.log_dir}   (Airflow task logs: {settings.airflow_home}/logs)")
    print("  Stop with `make stop`; see what runs with `make status`.")


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from phwarehouse.stack import manage

    manage.up(settings, _say, superset=not args.no_superset)
    _print_where(settings)
    return 0


def cmd_provision(settings: Settings, _: argparse.Namespace) -> int:
    """Create databases, roles and grants on the configured server (deployments)."""
    from phwarehouse.stack.provision import provision

    for notice in provision(settings):
        _say(notice)
    _say(f"provisioned {settings.pg.host}:{settings.pg.port}")
    return 0


def cmd_rotate_person_key(settings: Settings, args: argparse.Namespace) -> int:
    """Set a new pseudonymisation key in the warehouse and rebuild every person-keyed model."""
    from phwarehouse.stack import person_key

    how = person_key.rotate(settings, _say, rebuild=args.rebuild)
    _say(f"person key rotated; person-keyed models rebuilt ({how})")
    return 0


def cmd_ingest(settings: Settings, args: argparse.Namespace) -> int:
    """Pull every entity once from the platform, outside Airflow (operators, tests, benchmarks)."""
    from datetime import UTC, datetime

    from phwarehouse.ingestion import file_drops
    from phwarehouse.ingestion.client import PlatformClient
    from phwarehouse.ingestion.contracts import ENTITIES
    from phwarehouse.ingestion.platform_ingest import ingest_entity

    dsn = settings.warehouse_url("loader")
    batch = f"manual:{datetime.now(UTC):%Y%m%dT%H%M%S}"
    until = datetime.now(UTC)
    with PlatformClient(settings.platform_url, settings.get("PLATFORM_API_TOKEN"), 5000) as client:
        for entity in args.entities or ENTITIES:
            result = ingest_entity(dsn, client, entity, batch, until)
            _say(f"{entity}: {result.counts}")
    for r in file_drops.ingest_drop_folder(dsn, settings.drop_dir, batch):
        _say(f"{r.path.name}: {'already ingested' if r.skipped else r.counts}")
    return 0


def cmd_down(settings: Settings, _: argparse.Namespace) -> int:
    from phwarehouse.stack import manage

    manage.down(settings, _say)
    return 0


def cmd_remove_cluster(settings: Settings, _: argparse.Namespace) -> int:
    """Stop the local cluster and delete its data directory (`make clean`; PHW_PGDATA is kept)."""
    import shutil

    from phwarehouse.stack import pgcluster

    if not settings.pg.local or settings.values.get("PHW_PGDATA"):
        return 0
    pgcluster.stop(settings)
    if settings.pgdata.exists():
        shutil.rmtree(settings.pgdata.parent if pgcluster.is_outside(settings) else settings.pgdata)
        _say(f"removed {settings.pgdata}")
    return 0


def cmd_status(settings: Settings, _: argparse.Namespace) -> int:
    from phwarehouse.stack import manage

    for name, state, where in manage.status(settings):
        print(f"{name:<24} {state:<22} {where}")
    return 0


def cmd_run(settings: Settings, _: argparse.Namespace) -> int:
    from phwarehouse.stack import main_job

    started = time.monotonic()
    report = main_job.main_job(settings, _say)
    print()
    print("What ran")
    for dag_id, run_id, state in report.runs:
        print(f"  {dag_id:<28} {state:<8} {run_id}")
        for task in report.failed_tasks.get(dag_id, []):
            print(f"      not successful: {task}")
    rows = main_job.warehouse_summary(settings)
    if rows:
        print()
        print(
            f"  {'entity':<28}{'received':>10}{'loaded':>10}{'quarant.':>10}{'dupl.':>8}"
            f"{'confl.':>8}"
        )
        for entity, received, loaded, quarantined, duplicates, conflicts in rows:
            print(
                f"  {entity:<28}{received:>10}{loaded:>10}{quarantined:>10}{duplicates:>8}"
                f"{conflicts:>8}"
            )
    print()
    print("Quality gate and publication")
    for line in _quality_lines(settings):
        print(f"  {line}")
    if report.ok:
        files, note = main_job.export_latest_bulletin(settings, _say)
        print(f"\nMonthly bulletin ({note})")
        for path in files:
            print(f"  {path}")
    print(f"\nmain job finished in {time.monotonic() - started:.0f}s")
    _print_where(settings)
    return 0 if report.ok else 1


def _quality_lines(settings: Settings) -> list[str]:
    from phwarehouse.quality import status

    try:
        return status.summary_lines(settings.warehouse_url("quality"), settings.airflow_url)
    except Exception as exc:  # the summary must not hide the run's own outcome
        return [f"(quality status unavailable: {type(exc).__name__}: {exc})"]


def cmd_quality(settings: Settings, args: argparse.Namespace) -> int:
    """Publication status, or a one-step rollback / re-publication of the marts."""
    from phwarehouse.quality import publish

    dsn = settings.warehouse_url("transformer")
    readers = [settings.warehouse_role("bi")[0]]
    try:
        if args.action == "rollback":
            _say(f"rolled back: {publish.rollback(dsn, readers)} is published again")
        elif args.action == "republish":
            _say(f"re-published {publish.republish(dsn, readers)}")
    except publish.PublicationError as exc:
        print(f"phw quality: {exc}", file=sys.stderr)
        return 1
    for line in _quality_lines(settings):
        print(line)
    return 0


def cmd_dashboards(settings: Settings, _: argparse.Namespace) -> int:
    """Import superset/assets and superset/access.yml into the stack's Superset again."""
    from phwarehouse.dashboards import importer

    counts = importer.apply(settings)
    _say("dashboards imported: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """The monthly bulletin or the annual appraisal from the published marts, into the outbox."""
    from phwarehouse.exports import content, data, jobs

    dsn = settings.warehouse_url("transformer")
    try:
        if args.kind == "bulletin":
            if args.month:
                year, month = data.parse_month(args.month)
            else:
                year, month = jobs.latest_bulletin_month(dsn)
            result = jobs.build_bulletin(dsn, settings.export_dir, year, month, _say)
            subject = content.bulletin_title(year, month)
        else:
            as_of = data.parse_date(args.as_of) if args.as_of else jobs.appraisal_as_of(args.year)
            result = jobs.build_appraisal(dsn, settings.export_dir, args.year, as_of, _say)
            subject = content.appraisal_title(args.year)
    except ValueError as exc:
        print(f"phw export: {exc}", file=sys.stderr)
        return 2
    if args.send or args.resend:
        jobs.deliver(result, subject, settings.values, force=args.resend, say=_say)
    for path in result.files:
        print(path)
    return 0


def cmd_env(settings: Settings, _: argparse.Namespace) -> int:
    """Print `export` lines so a shell can run dbt or psql against this stack."""
    from phwarehouse.stack.airflow_service import airflow_env

    keys = set(settings.warehouse_env()) | {
        k for k in airflow_env(settings) if k.startswith("AIRFLOW")
    }
    env = {**airflow_env(settings)}
    for key in sorted(keys):
        print(f"export {key}='{env[key]}'")
    return 0


def cmd_passthrough(settings: Settings, args: argparse.Namespace) -> int:
    """Run the airflow or superset CLI with this stack's environment."""
    from phwarehouse.stack.airflow_service import airflow_env
    from phwarehouse.stack.superset_service import superset_env

    if args.command == "airflow":
        env, exe = airflow_env(settings), settings.venv_pipeline / "bin" / "airflow"
    else:
        env, exe = superset_env(settings), settings.venv_superset / "bin" / "superset"
    os.execve(str(exe), [str(exe), *args.rest], env)
    return 0  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="phw", description=__doc__)
    parser.add_argument("--home", help="state folder (default $PHW_HOME or ./.local)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start PostgreSQL, Airflow and Superset")
    up.add_argument("--no-superset", action="store_true")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop every service this stack started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show what runs").set_defaults(func=cmd_status)
    sub.add_parser(
        "remove-cluster", help="stop the local cluster and delete its data (make clean)"
    ).set_defaults(func=cmd_remove_cluster)
    ingest = sub.add_parser("ingest", help="pull the platform once into raw, outside Airflow")
    ingest.add_argument("entities", nargs="*")
    ingest.set_defaults(func=cmd_ingest)
    sub.add_parser("provision", help="databases, roles and grants only").set_defaults(
        func=cmd_provision
    )
    rotate = sub.add_parser(
        "rotate-person-key",
        help="new pseudonymisation key in the warehouse, then a full-refresh dbt build",
    )
    rotate.add_argument(
        "--rebuild",
        choices=("auto", "airflow", "dbt", "none"),
        default="auto",
        help="how to rebuild: the transform DAG (full_refresh) when Airflow answers, else dbt",
    )
    rotate.set_defaults(func=cmd_rotate_person_key)
    sub.add_parser("run", help="the main job: up, ingest, transform, summary").set_defaults(
        func=cmd_run
    )
    quality = sub.add_parser(
        "quality", help="publication and quality gate status; rollback or re-publish the marts"
    )
    quality.add_argument("action", nargs="?", choices=("status", "rollback", "republish"))
    quality.set_defaults(func=cmd_quality, action="status")
    sub.add_parser("env", help="print export lines for this stack").set_defaults(func=cmd_env)
    sub.add_parser(
        "dashboards", help="import the dashboards, roles, users and row-level security again"
    ).set_defaults(func=cmd_dashboards)
    export = sub.add_parser(
        "export", help="monthly bulletin / annual appraisal (XLSX + PDF) from the published marts"
    )
    kinds = export.add_subparsers(dest="kind", required=True)
    bulletin = kinds.add_parser("bulletin", help="工作简报 of a month (year to date)")
    bulletin.add_argument("--month", help="YYYY-MM (default: the latest month published)")
    appraisal = kinds.add_parser("appraisal", help="年度考核 of a year")
    appraisal.add_argument("--year", type=int, required=True)
    appraisal.add_argument(
        "--as-of", help="YYYY-MM-DD, a month's last day (default: October's, see README)"
    )
    for p in (bulletin, appraisal):
        p.add_argument("--send", action="store_true", help="e-mail to PHW_EXPORT_TO if not sent")
        p.add_argument("--resend", action="store_true", help="e-mail even if already sent")
        p.set_defaults(func=cmd_export)
    for name in ("airflow", "superset"):
        p = sub.add_parser(name, help=f"run the {name} CLI with this stack's environment")
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(func=cmd_passthrough)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(args.home)
    try:
        return int(args.func(settings, args))
    except (RuntimeError, TimeoutError) as exc:
        print(f"phw: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
