"""Benchmark: one monthly bulletin (and the annual appraisal) of the district profile.

Generates (or reuses) the district profile of bench_ingest.py (600,000 residents), serves it as
of 2026-11-22, ingests it over the HTTP API into a throwaway cluster, runs a full `dbt build`
(no unit tests, as production does), records a publication with that data cut-off, then times
`phw export bulletin --month 2026-10` (XLSX + PDF + manifest) twice and the 2026 appraisal, with
the peak memory of this process. Target: one bulletin in under a minute.

    .venvs/pipeline/bin/python benchmarks/bench_exports.py [--residents 600000] [--keep]
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import (
    AS_OF,
    _population_drop,
    _serve,
    _time_dbt,
    ensure_profile,
    ingest_all,
    profile_parser,
)

from phwarehouse.exports import jobs
from phwarehouse.quality.publication import ensure_table
from phwarehouse.settings import load_settings
from phwarehouse.stack import manage, pgcluster
from phwarehouse.stack.processes import free_port


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    args = profile_parser(__doc__).parse_args()
    ensure_profile(args.data, args.residents)

    home = Path(tempfile.mkdtemp(prefix="phw-bench-exports-"))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHW_", "WAREHOUSE_"))}
    env.update({"PHW_HOME": str(home), "PHW_PG_PORT": str(free_port())})
    settings = load_settings(home, env)
    try:
        manage.start_database(settings)
        port = free_port()
        server = _serve(args.data, port, AS_OF)
        try:
            started = time.monotonic()
            totals, _ = ingest_all(
                settings.warehouse_url("loader"), f"http://127.0.0.1:{port}", "bench", args.workers
            )
            print(f"ingest: {totals['received']:,} records in {time.monotonic() - started:.0f}s")
        finally:
            server.terminate()
            server.wait()
        _population_drop(settings, args.data, settings.warehouse_url("loader"))
        _time_dbt(settings, f"full dbt build (cut-off {AS_OF})", AS_OF, True)

        dsn = settings.warehouse_url("transformer")
        with psycopg.connect(settings.pg.admin_url(settings.warehouse_db), autocommit=True) as conn:
            ensure_table(conn)  # as provisioning creates it: the loader's, the transformer writes
            conn.execute("alter table ops.publications owner to phw_loader")
            conn.execute("grant select, insert, update on ops.publications to phw_transformer")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "insert into ops.publications (publication_id, data_cutoff_date,"
                " candidate_schema) values ('bench-1', %s, 'marts')",
                (AS_OF,),
            )
            rows = conn.execute(
                "select count(*) from marts.fct_indicator_values where period_key = '2026-10'"
            ).fetchone()[0]
        out = home / "exports"
        for attempt in ("first", "second"):
            started = time.monotonic()
            result = jobs.build_bulletin(dsn, out, 2026, 10, print)
            elapsed = time.monotonic() - started
            sizes = ", ".join(
                f"{f['file']} {f['bytes'] / 1024:.0f} KiB" for f in result.manifest["files"]
            )
            print(
                f"bulletin 2026-10 ({attempt} run, {rows} indicator rows of the month): "
                f"{elapsed:.1f}s; {sizes}; peak RSS {_peak_mib():.0f} MiB"
            )
        started = time.monotonic()
        jobs.build_appraisal(dsn, out, 2026, date(2026, 10, 31))
        print(f"appraisal 2026: {time.monotonic() - started:.1f}s; peak RSS {_peak_mib():.0f} MiB")
    finally:
        if args.keep:
            print(f"kept: {home} (stop with pgcluster.stop; PG port {settings.pg.port})")
        else:
            manage.down(settings)
            pgcluster.stop(settings)
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
