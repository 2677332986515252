"""What the quality gate and the publication say now: for `make run`'s summary and `phw quality`."""

from __future__ import annotations

import psycopg

from phwarehouse.quality import publication
from phwarehouse.quality.gate import data_docs_index

DATA_DOCS = data_docs_index()
DATA_DOCS_PATH = "/data-docs"  # where the Airflow API server serves them (pipeline.data_docs)


def summary_lines(dsn: str, airflow_url: str | None = None) -> list[str]:
    """Publication and last gate run; Data Docs at Airflow's URL when given, else the file."""
    lines: list[str] = []
    with psycopg.connect(dsn) as conn:
        current = publication.current_publication(conn)
        if current is None:
            lines.append("published marts: none yet (no candidate has passed the quality gate)")
        else:
            lines.append(
                f"published marts: {current.publication_id} (data as of"
                f" {current.data_cutoff_date}, published {current.published_at:%Y-%m-%d %H:%M %Z})"
            )
        exists = conn.execute("select to_regclass('quality.gate_runs') is not null").fetchone()
        run = None
        if exists and exists[0]:
            run = conn.execute(
                "select run_id, status, checks_run, errors, warnings, data_docs"
                " from quality.gate_runs order by started_at desc limit 1"
            ).fetchone()
        if run:
            run_id, status, checks_run, errors, warnings, docs = run
            lines.append(
                f"last quality gate: {run_id} {status}: {checks_run or 0} checks,"
                f" {errors or 0} error(s), {warnings or 0} warning(s)"
            )
            failed = conn.execute(
                "select severity, check_name, observed_value from quality.check_results"
                " where run_id = %s and not passed order by severity, check_name",
                (run_id,),
            ).fetchall()
            for severity, name, observed in failed:
                lines.append(f"    {severity:<8} {name} ({observed} violating rows)")
            if airflow_url:
                lines.append(f"GX Data Docs: {airflow_url}{DATA_DOCS_PATH}/ (sign in to Airflow)")
            lines.append(f"GX Data Docs file: {docs or DATA_DOCS}")
        else:
            lines.append("last quality gate: not run yet")
    return lines
