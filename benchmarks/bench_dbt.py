"""Benchmark: full vs one-day incremental `dbt build`, planned as the pipeline plans its runs.

Generates (or reuses) a district profile (default 100,000 residents), ingests it over the API
as of three days before the as-of date into a throwaway PostgreSQL cluster, runs a full build,
then for each of the three following days ingests that day and runs the incremental build that
`phwarehouse.pipeline.dbt_selection` plans (models downstream of the sources that received
rows, the cut-off's models, every mart; data tests of incremental models scoped to the rows the
run wrote), and ends with a full refresh of the same data. As in the pipeline the marts are
built into the candidate schema, which is then renamed to the published one, dbt's target
folder (partial parse, manifest) and the plan's state are kept between runs in a private
folder, and the cut-off goes to dbt in PHW_DATA_CUTOFF_DATE. The change margin is 0 (loads
here are seconds apart; in daily operation they are a day apart, beyond the 1 h margin).

Prints per build: wall time, dbt start-up (wall time less dbt's own elapsed time), model and
data-test time (summed over dbt's threads), CPU time of the dbt process and of PostgreSQL,
the slowest nodes (run_results.json), schema sizes; dbt parse from scratch vs partial;
medians; and checks that the last incremental build's `fct_indicator_values` equals the full
refresh's row for row.

Replay (`--snapshot DIR`): the first run also keeps the cluster and dbt's state as they are
after the second day's build in DIR; each later run with the same DIR restores that state
(same home and port), plans and runs a build with this checkout's models at the second day's
cut-off (a full build when their definitions differ from the snapshot's, else an incremental
run with nothing new), then ingests the last day and times its one-day build. Run it
alternately from two checkouts to compare their one-day builds in one machine state
(about a minute per run at 100 k).

    .venvs/pipeline/bin/python benchmarks/bench_dbt.py [--residents 100000] [--keep]
        [--snapshot DIR]
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import (
    _population_drop,
    _serve,
    ensure_profile,
    ingest_all,
    pg_cpu,
    profile_parser,
)

from phwarehouse.pipeline import dbt_selection
from phwarehouse.settings import load_settings
from phwarehouse.stack import manage, pgcluster
from phwarehouse.stack.processes import free_port

AS_OF = "2026-11-22"
PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = str(Path(sys.prefix) / "bin" / "dbt")
CANDIDATE, PUBLISHED = "marts_candidate", "marts"
DBT_TARGET = "prod"  # the pipeline's target (dbt_project/profiles.yml), when it has one


def _targets() -> set[str]:
    return set(yaml.safe_load((PROJECT / "profiles.yml").read_text())["public_health"]["outputs"])


VARS = f"{{marts_schema: {CANDIDATE}, incremental_change_margin_hours: 0}}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _dbt(settings, target: Path, *args: str, env: dict[str, str]) -> tuple[float, str, int]:
    cmd = [DBT, *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    cmd += ["--target", DBT_TARGET] if DBT_TARGET in _targets() else []
    cmd += ["--target-path", str(target), "--log-path", str(target / "logs")]
    started = time.monotonic()
    result = subprocess.run(
        cmd,
        env={**os.environ, **settings.warehouse_env(), **env},
        capture_output=True,
        text=True,
        check=False,
        umask=0o077,
    )
    return time.monotonic() - started, result.stdout, result.returncode


def _schema_sizes(conn) -> dict[str, int]:
    rows = conn.execute(
        "select n.nspname, sum(pg_total_relation_size(c.oid)) from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace where c.relkind in ('r', 'm')"
        " and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
        " group by 1 order by 2 desc"
    ).fetchall()
    return {schema: int(size) for schema, size in rows}


def _publish(conn, candidate: str, published: str) -> None:
    """The publication's schema swap, without the quality gate (phwarehouse.quality.publish)."""
    conn.execute(f'drop schema if exists "{published}" cascade')
    conn.execute(f'alter schema "{candidate}" rename to "{published}"')


def _marts_schema(manifest: dict) -> str:
    return next(
        n["schema"]
        for uid in dbt_selection.marts(manifest)
        for n in [manifest["nodes"][uid]]
        if n["name"] == "fct_indicator_values"
    )


class Build:
    def __init__(
        self, label: str, wall: float, run_results: dict, plan, cpu: tuple[float, float]
    ) -> None:
        results = run_results["results"]
        self.label, self.wall, self.plan = label, wall, plan
        self.dbt_cpu, self.pg_cpu = cpu
        self.elapsed = run_results["elapsed_time"]
        self.startup = wall - self.elapsed
        self.models = sum(r["execution_time"] for r in results if ".test." not in r["unique_id"])
        self.tests = sum(r["execution_time"] for r in results if r["unique_id"].startswith("test."))
        self.n_models = sum(1 for r in results if r["unique_id"].startswith("model."))
        self.n_tests = sum(1 for r in results if r["unique_id"].startswith("test."))
        self.slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:10]

    def report(self, sizes: dict[str, int]) -> None:
        print(
            f"{self.label}: {self.wall:.1f}s wall; dbt start-up {self.startup:.1f}s; "
            f"{self.n_models} models (with seeds) {self.models:.1f}s, {self.n_tests} data tests "
            f"{self.tests:.1f}s (thread time); CPU: dbt {self.dbt_cpu:.1f}s, "
            f"PostgreSQL {self.pg_cpu:.1f}s"
        )
        if self.plan is not None:
            print(f"  plan: {self.plan.summary()}")
        for r in self.slowest:
            print(f"    {r['execution_time']:7.2f}s  {r['unique_id']}")
        print(
            "  schemas: "
            + ", ".join(f"{s} {b / 2**20:,.1f} MiB" for s, b in sizes.items() if b > 2**20)
        )


def _copy_tree(source: Path, dest: Path) -> None:
    """A copy keeping owners and modes (the cluster's files belong to its system user)."""
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)


def main() -> None:
    parser = profile_parser(__doc__)
    parser.set_defaults(residents=100_000)
    parser.add_argument(
        "--snapshot",
        type=Path,
        help="keep the state after day 2 here (first run), or replay the last day from it",
    )
    args = parser.parse_args()
    snapshot: Path | None = args.snapshot
    meta_file = snapshot / "bench.json" if snapshot else None
    replay = json.loads(meta_file.read_text()) if meta_file and meta_file.exists() else None
    data: Path = args.data
    manifest = data / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("residents") != args.residents:
        data = data.with_name(f"{data.name}_{args.residents}")  # keep the other profile
    ensure_profile(data, args.residents)

    if replay:
        if replay["residents"] != args.residents:
            raise SystemExit(f"{snapshot} holds a {replay['residents']:,}-resident district")
        home = Path(replay["home"])
        _copy_tree(snapshot / "home", home)
    else:
        home = Path(tempfile.mkdtemp(prefix="phw-bench-dbt-"))
        home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHW_", "WAREHOUSE_"))}
    pg_port = replay["pg_port"] if replay else free_port()
    env.update({"PHW_HOME": str(home), "PHW_PG_PORT": str(pg_port)})
    settings = load_settings(home, env)
    kept = dbt_selection.private_dir(home / "dbt_state")  # target folder and plan state
    target, state_dir = kept / "target", kept / "plan"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    days = [(date.fromisoformat(AS_OF) - timedelta(days=n)).isoformat() for n in (3, 2, 1, 0)]
    builds: list[Build] = []
    try:
        manage.start_database(settings)
        dsn, admin = settings.warehouse_url("loader"), settings.pg.admin_url(settings.warehouse_db)

        def ingest(as_of: str, batch: str) -> None:
            server = _serve(data, port, as_of)
            try:
                started = time.monotonic()
                totals, _ = ingest_all(dsn, url, batch, args.workers)
            finally:
                server.terminate()
                server.wait()
            print(
                f"ingest as of {as_of}: {totals['received']:,} records in "
                f"{time.monotonic() - started:.1f}s"
            )

        def build(label: str, cutoff: str, full_refresh: bool) -> Build:
            manifest_path = target / "manifest.json"
            if not manifest_path.exists():  # first run: parse for the plan
                _, out, rc = _dbt(settings, target, "parse", "--vars", VARS, env={})
                if rc != 0:
                    raise SystemExit(f"dbt parse failed:\n{out[-5000:]}")
            plan = dbt_selection.plan_for(
                admin,
                manifest_path,
                state_dir,
                data_cutoff_date=cutoff,
                full_refresh=full_refresh,
                margin=timedelta(0),
            )
            cpu = _children_cpu(), pg_cpu(settings)
            wall, out, rc = _dbt(
                settings,
                target,
                "build",
                "--vars",
                VARS,
                "--exclude-resource-type",
                "unit_test",
                *plan.dbt_args(),
                env={"PHW_DATA_CUTOFF_DATE": cutoff, **plan.dbt_env()},
            )
            if rc != 0:
                print(out[-5000:])
                raise SystemExit(f"{label} failed")
            cpu = _children_cpu() - cpu[0], pg_cpu(settings) - cpu[1]
            dbt_selection.save_state(state_dir, plan.next_state)
            run_results = json.loads((target / "run_results.json").read_text())
            result = Build(label, wall, run_results, plan, cpu)
            with psycopg.connect(admin, autocommit=True) as conn:
                schema = _marts_schema(json.loads(manifest_path.read_text()))
                result.fct = sorted(
                    map(repr, conn.execute(f'select * from "{schema}".fct_indicator_values'))
                )
                _publish(conn, schema, schema.replace(CANDIDATE, PUBLISHED))
                sizes = _schema_sizes(conn)
            result.report(sizes)
            builds.append(result)
            return result

        if replay:
            _dbt(settings, target, "parse", "--vars", VARS, env={})  # this checkout's models
            build(f"this checkout's models as of day 2 (cut-off {days[2]})", days[2], False)
            ingest(days[3], "day3")
            last = build(
                f"replayed incremental dbt build, day 3 (cut-off {days[3]})", days[3], False
            )
            print(f"replayed day 3: {last.wall:.1f}s wall")
            return
        ingest(days[0], "initial")
        _population_drop(settings, data, dsn)
        build(f"full dbt build (first run, cut-off {days[0]})", days[0], False)
        for n, day in enumerate(days[1:], 1):
            if n == 3 and snapshot:
                pgcluster.stop(settings)
                snapshot.mkdir(parents=True, exist_ok=True)
                _copy_tree(home, snapshot / "home")
                meta = {"home": str(home), "pg_port": pg_port, "residents": args.residents}
                meta_file.write_text(json.dumps(meta))
                print(f"kept the state after day 2 in {snapshot}")
                manage.start_database(settings)
            ingest(day, f"day{n}")
            last = build(f"incremental dbt build, day {n} (cut-off {day})", day, False)
        full = build(f"full refresh (cut-off {days[-1]})", days[-1], True)
        same = last.fct == full.fct
        print(
            f"fct_indicator_values after the incremental builds equals the full refresh: {same} "
            f"({len(full.fct):,} rows)"
        )

        parse_target = home / "parse_target"
        scratch = _dbt(settings, parse_target, "parse", "--vars", VARS, env={})[0]
        partial = [
            _dbt(settings, parse_target, "parse", "--vars", VARS, env={"PHW_DATA_CUTOFF_DATE": d})[
                0
            ]
            for d in days[:3]
        ]
        print(
            f"dbt parse from scratch {scratch:.1f}s; partial (cut-off changed) median "
            f"{statistics.median(partial):.1f}s of {', '.join(f'{p:.1f}' for p in partial)}"
        )
        fulls = [b for b in builds if b.plan.full]
        incs = [b for b in builds if not b.plan.full]
        for name, group in (("full", fulls), ("incremental", incs)):
            print(
                f"median {name} build: {statistics.median(b.wall for b in group):.1f}s wall "
                f"(of {', '.join(f'{b.wall:.1f}' for b in group)}), start-up "
                f"{statistics.median(b.startup for b in group):.1f}s, data tests "
                f"{statistics.median(b.tests for b in group):.1f}s"
            )
        ratio = statistics.median(b.wall for b in incs) / statistics.median(b.wall for b in fulls)
        print(f"incremental / full: {ratio:.2f}")
        if not same:
            raise SystemExit("incremental and full refresh differ")
    finally:
        if not args.keep:
            manage.down(settings)
            pgcluster.stop(settings)
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"kept cluster in {home} (port {settings.pg.port})")


if __name__ == "__main__":
    main()
