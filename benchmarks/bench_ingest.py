"""Benchmark: initial and one-day incremental ingest of the district profile over the HTTP API.

Generates (or reuses) the district profile — 600,000 residents, 3 years — serves it with the
platform simulator as of two days before the as-of date, ingests every entity into a throwaway
PostgreSQL cluster, then ingests the next two one-day increments. Prints wall times, records/s
and peak memory of the ingest process and of the server, and the initial ingest's CPU per
record (ingest processes, the whole PostgreSQL cluster, the server). It is set against two
anchors run in the same cluster on the same feed lines: one `COPY` stream of the lines into a
temporary table with a single jsonb column, and a naive pandas `read_json` + `to_sql` loader
(lines either anchor cannot load — malformed, NUL, lone surrogates, non-finite or over-long
numbers — are left out of both and counted). With --repeat N it then empties the raw tables
and runs N interleaved rounds of the initial ingest and the COPY anchor on the warm cluster
(medians): both timed in the same memory state, which was seen to move the anchor more than
the ingest (likely: the anchor writes its temporary table out as it goes, where the ingest
leaves most of its pages to shared buffers). With --dbt it emulates daily operation: the first
two loads are dated back to their days (the incremental models look at when rows were
loaded), a full `dbt build` runs after the second day, and the timed incremental
`dbt build` after the third.

    .venvs/pipeline/bin/python benchmarks/bench_ingest.py [--residents 600000] [--dbt] [--keep]
        [--no-anchors] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from phwarehouse.ingestion.client import PlatformClient
from phwarehouse.ingestion.contracts import ENTITIES
from phwarehouse.ingestion.platform_ingest import ingest_entity
from phwarehouse.ingestion.validation import storable
from phwarehouse.platform.feed import FeedStore
from phwarehouse.platform.server import cutoff_of
from phwarehouse.settings import DBT_TARGET, load_settings
from phwarehouse.stack import manage, pgcluster
from phwarehouse.stack.processes import free_port, http_ok, wait_for

AS_OF = "2026-11-22"
TOKEN = "bench"


def _peak_rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds (user + system) of process `pid`, with its reaped children's if asked."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def pg_cpu(settings) -> float:
    """CPU seconds the cluster has used so far: the postmaster, its live processes and the
    backends it has reaped (a loader's backend ends with its connection)."""
    try:
        postmaster = int((settings.pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")
    total = _proc_cpu(postmaster, children=True)
    for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
        total += _proc_cpu(int(child), children=True)
    return total


def _serve(data: Path, port: int, as_of: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "phwarehouse.platform",
            "serve",
            "--data",
            str(data),
            "--port",
            str(port),
            "--token",
            TOKEN,
            "--as-of",
            as_of,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: http_ok(f"http://127.0.0.1:{port}/health"), "platform", 120)
    return proc


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ingest_some(args: tuple[str, str, list[str], str]) -> tuple[dict[str, float], float]:
    dsn, url, entities, batch = args
    cpu = _cpu_self()
    totals: dict[str, float] = {"received": 0, "loaded": 0, "quarantined": 0, "duplicates": 0}
    until = datetime.now(UTC) + timedelta(days=3650)
    with PlatformClient(url, TOKEN, page_size=5000, timeout=60) as client:
        for entity in entities:
            counts = ingest_entity(dsn, client, entity, f"{batch}:{entity}", until).counts
            assert counts.reconciles, (entity, counts)
            for key in totals:
                totals[key] += getattr(counts, key)
    totals["cpu"] = _cpu_self() - cpu
    return totals, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_all(dsn: str, url: str, batch: str, workers: int) -> tuple[dict[str, float], float]:
    """Ingest every entity, one job per entity taken by the first of `workers` processes to
    be free (largest entities first), as Airflow runs the DAG's mapped task per entity. (A
    fixed share of entities per process left one idle for the last 0.6 s of 5.2 s at 100 k.)"""
    entities = sorted(ENTITIES, key=lambda e: -_feed_size(url, e))
    totals: dict[str, float] = {
        "received": 0,
        "loaded": 0,
        "quarantined": 0,
        "duplicates": 0,
        "cpu": 0.0,
    }
    peak = 0.0
    with ProcessPoolExecutor(workers) as pool:
        for part, rss in pool.map(_ingest_some, [(dsn, url, [e], batch) for e in entities]):
            for key in totals:
                totals[key] += part[key]
            peak = max(peak, rss)
    return totals, peak


_SIZES: dict[str, int] = {}


def _feed_size(url: str, entity: str) -> int:
    if not _SIZES:
        with PlatformClient(url, TOKEN) as client:
            body = client.get_json("/api/v1/entities")
        _SIZES.update({e["name"]: int(e["count"]) for e in body["entities"]})
    return _SIZES.get(entity, 0)


#: JSON escapes that may decode to a NUL or a lone surrogate, which jsonb rejects
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _copy_text(line: bytes) -> str:
    """A feed line as a field of COPY's text format."""
    text = line.decode("utf-8")
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\r", "\\r"), ("\n", "\\n")):
        text = text.replace(char, escaped)
    return text


def _anchor_loadable(line: bytes) -> bool:
    """Whether both anchors can load this feed line: a JSON object jsonb accepts whose
    integers fit pandas' int64."""
    text = line.decode("utf-8", "replace")
    if not text.startswith("{") or _RISKY_ESCAPE.search(text):
        return False
    try:
        obj = json.loads(text)
    except ValueError:
        return False
    return (
        isinstance(obj, dict)
        and storable(obj)
        and all(abs(v) < 2**63 for v in obj.values() if isinstance(v, int))
        and not any(isinstance(v, dict | list) for v in obj.values())
    )


def feed_lines(data: Path, as_of: str) -> tuple[dict[str, list[bytes]], int]:
    """Per entity, the feed lines served as of `as_of` that the anchors can load; and how many
    served lines were left out."""
    store = FeedStore(data)
    cutoff = cutoff_of(as_of)
    lines: dict[str, list[bytes]] = {}
    left_out = 0
    try:
        for entity, feed in store.feeds.items():
            served = [x.rstrip(b"\r") for x in feed.read_lines(0, feed.position_after(cutoff))]
            lines[entity] = [x for x in served if _anchor_loadable(x)]
            left_out += len(served) - len(lines[entity])
    finally:
        store.close()
    return lines, left_out


def copy_anchor(
    admin_dsn: str, lines: dict[str, list[bytes]], settings=None
) -> tuple[int, float, float]:
    """One COPY stream of every line into a temporary table with one jsonb column."""
    import psycopg

    blocks = []
    for entity_lines in lines.values():
        for start in range(0, len(entity_lines), 5000):
            part = entity_lines[start : start + 5000]
            text = "\n".join(_copy_text(x) for x in part) + "\n"
            blocks.append(text.encode("utf-8"))
    rows = sum(len(x) for x in lines.values())
    with psycopg.connect(admin_dsn) as conn:
        conn.execute("create temp table anchor_copy (payload jsonb)")
        conn.commit()
        os.sync()  # not timed against the write-back of what ran before
        cpu = pg_cpu(settings) if settings is not None else float("nan")
        started = time.monotonic()
        with conn.cursor().copy("copy anchor_copy (payload) from stdin") as copy:
            for block in blocks:
                copy.write(block)
        conn.commit()
        elapsed = time.monotonic() - started
        cpu = pg_cpu(settings) - cpu if settings is not None else cpu
        copied = conn.execute("select count(*) from anchor_copy").fetchone()[0]
    assert copied == rows, (copied, rows)
    return rows, elapsed, cpu


def pandas_anchor(engine_url: str, lines: dict[str, list[bytes]]) -> tuple[int, float]:
    """A naive loader: pandas read_json of each entity's lines, then to_sql, as is."""
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url)
    rows = 0
    started = time.monotonic()
    try:
        for entity, entity_lines in lines.items():
            if not entity_lines:
                continue
            frame = pd.read_json(io.BytesIO(b"\n".join(entity_lines)), lines=True)
            frame.to_sql(f"anchor_pandas_{entity}", engine, if_exists="replace", index=False)
            rows += len(frame)
        elapsed = time.monotonic() - started
        with engine.begin() as conn:
            for entity in lines:
                conn.exec_driver_sql(f"drop table if exists anchor_pandas_{entity}")
    finally:
        engine.dispose()
    return rows, elapsed


def run_anchors(settings, data: Path, as_of: str, ingest_rate: float) -> None:
    """Time both anchors on the lines of the initial ingest and print the ratios."""
    lines, left_out = feed_lines(data, as_of)
    admin = settings.pg.admin_url(settings.warehouse_db)
    copied, copy_s, copy_cpu = copy_anchor(admin, lines, settings)
    pg = settings.pg
    engine_url = pg.url(
        pg.admin_user, pg.admin_password, settings.warehouse_db, "postgresql+psycopg"
    )
    loaded, pandas_s = pandas_anchor(engine_url, lines)
    copy_rate, pandas_rate = copied / copy_s, loaded / pandas_s
    print(
        f"anchors on the same {copied:,} lines ({left_out:,} served lines they cannot load "
        f"left out):\n"
        f"  COPY into one jsonb column, one stream: {copy_s:.1f}s = {copy_rate:,.0f} records/s"
        f" (PostgreSQL CPU {copy_cpu * 1e6 / copied:.1f} us per record)\n"
        f"  pandas read_json + to_sql: {pandas_s:.1f}s = {pandas_rate:,.0f} records/s\n"
        f"  ingest / COPY = {_ratio(ingest_rate, copy_rate)}; "
        f"ingest / pandas = {_ratio(ingest_rate, pandas_rate)}"
    )


def repeat_rounds(
    settings, data: Path, port: int, url: str, as_of: str, workers: int, rounds: int
) -> None:
    """Interleaved rounds on the warm cluster: empty the platform's raw tables, time the
    initial ingest again, then the COPY anchor on the same lines; medians and their ratio.
    Both then run in the same memory state (the first ingest of a new cluster also creates
    its WAL files and fills an empty page cache, which costs it and the anchor differently)."""
    import psycopg

    lines, _ = feed_lines(data, as_of)
    admin = settings.pg.admin_url(settings.warehouse_db)
    ingest_rates, copy_rates = [], []
    for round_ in range(1, rounds + 1):
        with psycopg.connect(admin) as conn:
            conn.execute("truncate " + ", ".join(f"raw.{e}" for e in ENTITIES))
            conn.execute("delete from ops.watermarks where entity = any(%s)", (list(ENTITIES),))
            conn.execute("checkpoint")
        server = _serve(data, port, as_of)
        try:
            os.sync()
            started = time.monotonic()
            totals, _ = ingest_all(settings.warehouse_url("loader"), url, f"round{round_}", workers)
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait()
        copied, copy_s, _ = copy_anchor(admin, lines, settings)
        ingest_rates.append(totals["received"] / elapsed)
        copy_rates.append(copied / copy_s)
        print(
            f"  round {round_}: ingest {ingest_rates[-1]:,.0f} records/s, "
            f"COPY {copy_rates[-1]:,.0f} records/s: {_ratio(ingest_rates[-1], copy_rates[-1])}"
        )
    ingest, copy = statistics.median(ingest_rates), statistics.median(copy_rates)
    print(
        f"warm cluster, medians of {rounds} interleaved rounds: ingest {ingest:,.0f} records/s, "
        f"COPY {copy:,.0f} records/s: ingest / COPY = {_ratio(ingest, copy)}"
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b and math.isfinite(b) else "n/a"


def _population_drop(settings, data: Path, dsn: str) -> None:
    from phwarehouse.ingestion import file_drops

    drops = settings.drop_dir / "population"
    drops.mkdir(parents=True, exist_ok=True)
    for csv in (data / "population").glob("*.csv"):
        shutil.copy2(csv, drops / csv.name)
    file_drops.ingest_drop_folder(dsn, settings.drop_dir, "bench")


def _age_loads(settings, batch: str, days: int) -> None:
    """Date a load `days` earlier, as if it had run on that day of daily operation (the
    incremental models look at when rows were loaded)."""
    import psycopg

    with psycopg.connect(settings.pg.admin_url(settings.warehouse_db)) as conn:
        tables = conn.execute(
            "select table_name from information_schema.columns"
            " where table_schema = 'raw' and column_name = 'loaded_at'"
        ).fetchall()
        for (table,) in tables:
            conn.execute(
                f"update raw.{table} set loaded_at = loaded_at - make_interval(days => %s)"
                " where batch_id like %s",
                (days, f"{batch}:%"),
            )


def _one_day(settings, data: Path, port: int, url: str, as_of: str, batch: str, workers: int):
    server = _serve(data, port, as_of)
    try:
        started = time.monotonic()
        totals, peak = ingest_all(settings.warehouse_url("loader"), url, batch, workers)
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait()
    print(
        f"one-day incremental ingest (as of {as_of}): {totals['received']:,} records in "
        f"{elapsed:.1f}s (loaded {totals['loaded']:,}); peak RSS {peak:.0f} MiB"
    )


def _time_dbt(settings, label: str, cutoff: str, full_refresh: bool = False, *extra: str) -> None:
    import psycopg

    project = Path(__file__).resolve().parents[1] / "dbt_project"
    target = settings.home / "dbt_target"
    cmd = [
        str(Path(sys.prefix) / "bin" / "dbt"),
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        # the pipeline's target (no macro harnesses), writing `marts` itself as before
        # (bench_exports reads it): without the var, prod builds into marts_candidate
        "--target",
        DBT_TARGET,
        "--vars",
        f"{{data_cutoff_date: '{cutoff}', marts_schema: marts}}",
        # as in production (warehouse_transform): unit tests belong to CI, not to every run
        "--exclude-resource-type",
        "unit_test",
        *extra,
    ]
    if full_refresh:
        cmd.append("--full-refresh")
    started = time.monotonic()
    result = subprocess.run(
        cmd,
        env={**os.environ, **settings.warehouse_env()},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    summary = [line for line in result.stdout.splitlines() if "PASS=" in line]
    with psycopg.connect(settings.pg.admin_url(settings.warehouse_db)) as conn:
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    print(
        f"{label}: {elapsed:.1f}s, {summary[-1].split('Done. ')[-1] if summary else 'FAILED'}; "
        f"warehouse size {size / 2**30:.2f} GiB"
    )
    _print_slowest(target / "run_results.json")
    if result.returncode != 0:
        print(result.stdout[-3000:])


def _print_slowest(run_results: Path, top: int = 12) -> None:
    """The dbt nodes that took longest (from dbt's run_results.json)."""
    if not run_results.exists():
        return
    results = json.loads(run_results.read_text())["results"]
    slowest = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:top]
    for r in slowest:
        print(f"    {r['execution_time']:7.1f}s  {r['unique_id']}")


def ensure_profile(data: Path, residents: int) -> None:
    """Generate the district profile into `data` unless it is there with this many residents."""
    manifest = data / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("residents") != residents:
        shutil.rmtree(data, ignore_errors=True)
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "phwarehouse.platform",
                "generate",
                "--seed",
                "42",
                "--residents",
                str(residents),
                "--as-of",
                AS_OF,
                "--out",
                str(data),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(f"generated district profile in {time.monotonic() - started:.1f}s")


def profile_parser(description: str | None) -> argparse.ArgumentParser:
    """Options of the benchmarks that ingest the district profile into a throwaway cluster."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--residents", type=int, default=600_000)
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "phw_bench_district"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the cluster and data")
    return parser


def main() -> None:
    parser = profile_parser(__doc__)
    parser.add_argument(
        "--dbt", action="store_true", help="also time `dbt build` after each ingest"
    )
    parser.add_argument(
        "--no-anchors", action="store_true", help="skip the COPY and pandas anchors"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        metavar="N",
        help="then N interleaved rounds of initial ingest and COPY anchor on the warm cluster",
    )
    args = parser.parse_args()

    data: Path = args.data
    ensure_profile(data, args.residents)

    home = Path(tempfile.mkdtemp(prefix="phw-bench-"))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHW_", "WAREHOUSE_"))}
    env.update({"PHW_HOME": str(home), "PHW_PG_PORT": str(free_port())})
    settings = load_settings(home, env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    as_of = date.fromisoformat(AS_OF)
    two_days_before, day_before = (
        (as_of - timedelta(days=2)).isoformat(),
        (as_of - timedelta(days=1)).isoformat(),
    )
    try:
        manage.start_database(settings)
        dsn = settings.warehouse_url("loader")

        server = _serve(data, port, two_days_before)
        try:
            os.sync()
            server_cpu, db_cpu = _proc_cpu(server.pid), pg_cpu(settings)
            started = time.monotonic()
            totals, peak = ingest_all(dsn, url, "initial", args.workers)
            elapsed = time.monotonic() - started
            server_cpu = _proc_cpu(server.pid) - server_cpu
            db_cpu = pg_cpu(settings) - db_cpu
            server_peak = _peak_rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait()
        print(
            f"initial ingest (as of {two_days_before}): {totals['received']:,} records in "
            f"{elapsed:.1f}s = {totals['received'] / elapsed:,.0f} records/s "
            f"(loaded {totals['loaded']:,}, quarantined {totals['quarantined']:,}, "
            f"duplicates {totals['duplicates']:,})"
        )
        print(f"  peak RSS: ingest process {peak:.0f} MiB, platform server {server_peak:.0f} MiB")
        per = 1e6 / max(totals["received"], 1)
        print(
            f"  CPU per record: ingest (Python) {totals['cpu'] * per:.1f} us, "
            f"PostgreSQL {db_cpu * per:.1f} us, platform server {server_cpu * per:.1f} us"
        )
        ingest_rate = totals["received"] / elapsed
        _age_loads(settings, "initial", days=2)
        _one_day(settings, data, port, url, day_before, "day1", args.workers)
        _age_loads(settings, "day1", days=1)
        if args.dbt:
            _population_drop(settings, data, dsn)
            _time_dbt(settings, f"full dbt build (cut-off {day_before})", day_before, True)

        _one_day(settings, data, port, url, AS_OF, "day2", args.workers)
        if args.dbt:
            _time_dbt(settings, f"incremental dbt build after the one-day ingest of {AS_OF}", AS_OF)
        if not args.no_anchors:  # last: the anchors' memory would show in the later peaks
            run_anchors(settings, data, two_days_before, ingest_rate)
        if args.repeat:
            repeat_rounds(settings, data, port, url, two_days_before, args.workers, args.repeat)
    finally:
        if not args.keep:
            manage.down(settings)
            pgcluster.stop(settings)
            shutil.rmtree(home, ignore_errors=True)
        else:
            print(f"kept cluster in {home} (port {settings.pg.port})")


if __name__ == "__main__":
    main()
