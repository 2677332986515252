"""Run the quality gate: the GX checkpoint over the day's raw load and the candidate marts.

`run_gate` fixes the gate's window (raw rows loaded since the last publication), runs the
checkpoint `quality_gate` of the GX project in `expectations/` (suites rendered from
`phwarehouse.quality.checks`), keeps every result in `quality.check_results` (one row per check:
kind, severity, observed value, threshold, passed) and the run in `quality.gate_runs`, and
builds the GX Data Docs. It does not publish: `phwarehouse.quality.publish` does when the
result `passed` (no error-level check failed).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from phwarehouse import contract as platform_contract
from phwarehouse.pipeline import data_cutoff
from phwarehouse.quality import checks as checks_mod

PROJECT_DIR = Path(__file__).resolve().parents[3] / "expectations"
GX_URL_VARIABLE = "PHW_GX_WAREHOUSE_URL"
CHECKPOINT = "quality_gate"

# the schema `quality` is made by provisioning (owned by the quality role)
DDL = f"""
drop table if exists quality.gate_window;
create table quality.gate_window (
    raw_since timestamptz not null,
    raw_until timestamptz not null,
    data_cutoff_date date not null,
    window_rows bigint not null,
    window_days numeric not null,
    history_start timestamptz,
    history_end timestamptz
);
create table if not exists quality.gate_runs (
    run_id text primary key,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    data_cutoff_date date not null,
    raw_since timestamptz not null,
    raw_until timestamptz not null,
    window_rows bigint,
    candidate_schema text not null default '{checks_mod.CANDIDATE_SCHEMA}',
    status text not null default 'running'
        check (status in ('running', 'passed', 'failed', 'error')),
    checks_run integer,
    errors integer,
    warnings integer,
    publication_id text,
    data_docs text,
    message text
);
create table if not exists quality.check_results (
    run_id text not null references quality.gate_runs on delete cascade,
    suite text not null,
    check_name text not null,
    kind text not null,
    severity text not null check (severity in ('error', 'warning')),
    passed boolean not null,
    observed_value numeric,
    threshold text,
    description text,
    sample jsonb,
    exception text,
    primary key (run_id, check_name)
);
"""


@dataclass
class CheckResult:
    suite: str
    name: str
    kind: str
    severity: str
    passed: bool
    observed: float | None
    threshold: str | None
    description: str
    sample: list | None = None
    exception: str | None = None


@dataclass
class GateResult:
    run_id: str
    data_cutoff_date: date
    results: list[CheckResult] = field(default_factory=list)
    data_docs: Path | None = None

    @property
    def failed_errors(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and r.severity == "error"]

    @property
    def failed_warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and r.severity == "warning"]

    @property
    def passed(self) -> bool:
        return bool(self.results) and not self.failed_errors

    def summary(self) -> str:
        """One line per failed check: severity, name, kind, observed value, threshold."""
        lines = [
            f"{r.severity.upper()} {r.name} ({r.kind}): observed {_fmt(r.observed)}"
            f" violating rows, threshold {r.threshold}"
            + (f"; {r.exception}" if r.exception else "")
            + (f"; e.g. {json.dumps(r.sample[0], ensure_ascii=False)}" if r.sample else "")
            for r in self.failed_errors + self.failed_warnings
        ]
        head = (
            f"quality gate {self.run_id}: {len(self.results)} checks, "
            f"{len(self.failed_errors)} error(s), {len(self.failed_warnings)} warning(s)"
        )
        return "\n".join([head, *lines])


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def ensure_tables(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def sqlalchemy_url(dsn: str) -> str:
    """A libpq URL as SQLAlchemy's psycopg (3) URL."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


def _open_window(conn: psycopg.Connection, run_id: str, cutoff: date) -> None:
    """Fix the gate's window: raw rows loaded after the last published run's raw_until."""
    since = conn.execute(
        "select coalesce(max(raw_until), '1900-01-01 00:00+00') from quality.gate_runs"
        " where publication_id is not null"
    ).fetchone()[0]
    until = conn.execute("select now()").fetchone()[0]
    union = "\nunion all\n".join(
        f"select source_updated_at from raw.{name} where loaded_at > %(since)s"
        " and loaded_at <= %(until)s"
        for name in platform_contract.ENTITIES
    )
    # the window's days: the time its rows' updates span (an hour at least), so that a re-run
    # an hour after the last one is not expected to bring a whole day of every entity
    rows, days, first = conn.execute(
        "select count(*), greatest(extract(epoch from max(source_updated_at)"
        " - min(source_updated_at)) / 86400, 1 / 24.0), min(source_updated_at)"
        f" from ({union}) as w",
        {"since": since, "until": until},
    ).fetchone()
    history_end = first
    conn.execute(
        "insert into quality.gate_window values (%s, %s, %s, %s, %s,"
        f" %s::timestamptz - interval '{checks_mod.HISTORY_DAYS} days', %s)",
        (since, until, cutoff, rows, days, history_end, history_end),
    )
    conn.execute(
        "insert into quality.gate_runs (run_id, data_cutoff_date, raw_since, raw_until,"
        " window_rows) values (%s, %s, %s, %s, %s)",
        (run_id, cutoff, since, until, rows),
    )


def data_docs_index(project_dir: Path = PROJECT_DIR) -> Path:
    """The GX Data Docs site's index page (built by the checkpoint, git-ignored)."""
    return project_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _gx_results(project_dir: Path, dsn: str) -> tuple[list[CheckResult], Path]:
    import great_expectations as gx

    os.environ[GX_URL_VARIABLE] = sqlalchemy_url(dsn)
    context = gx.get_context(mode="file", project_root_dir=str(project_dir))
    result = context.checkpoints.get(CHECKPOINT).run()
    declared = {c.name: c for c in checks_mod.all_checks()}
    out: list[CheckResult] = []
    for validation in result.run_results.values():
        for er in validation.results:
            meta = er.expectation_config.meta or {}
            check = declared.get(meta.get("check", ""))
            if check is None:
                continue
            info = er.exception_info or {}
            infos = [info] if "raised_exception" in info else list(info.values())
            raised = [i for i in infos if isinstance(i, dict) and i.get("raised_exception")]
            exception = str(raised[0].get("exception_message"))[:1000] if raised else None
            res = er.result or {}
            details = res.get("details") or {}
            sample = details.get("unexpected_rows")
            out.append(
                CheckResult(
                    suite=check.suite,
                    name=check.name,
                    kind=check.kind,
                    severity=check.severity,
                    passed=bool(er.success) and exception is None,
                    observed=res.get("observed_value"),
                    threshold=check.threshold,
                    description=check.description,
                    sample=json.loads(json.dumps(sample[:10], default=str)) if sample else None,
                    exception=exception,
                )
            )
    missing = set(declared) - {r.name for r in out}
    for name in sorted(missing):  # a check the checkpoint did not run never passes silently
        check = declared[name]
        out.append(
            CheckResult(
                check.suite,
                name,
                check.kind,
                check.severity,
                False,
                None,
                check.threshold,
                check.description,
                exception="not run by the checkpoint",
            )
        )
    docs = data_docs_index(project_dir)
    return out, docs


SAMPLE_ROWS = 10
BATCH_TABLES = {
    "raw_load": "quality.gate_window",
    "candidate_marts": f"{checks_mod.CANDIDATE_SCHEMA}.fct_indicator_values",
}


def _add_samples(dsn: str, results: list[CheckResult]) -> None:
    """The first violating rows of each failed check (GX's SUMMARY gives only their count)."""
    declared = {c.name: c for c in checks_mod.all_checks()}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for result in results:
            if result.passed or result.sample or result.exception:
                continue
            check = declared[result.name]
            query = check.sql.replace("{batch}", BATCH_TABLES[check.suite])
            try:
                cur = conn.execute(f"select * from ({query}) as v limit {SAMPLE_ROWS}")
                names = [d.name for d in cur.description]
                rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
            except psycopg.Error as exc:  # the count stands; only the examples are missing
                result.sample = [{"sample_error": str(exc)[:300]}]
                continue
            result.sample = json.loads(json.dumps(rows, default=str, ensure_ascii=False))


def record_publication(dsn: str, run_id: str, publication_id: str) -> None:
    """Link the gate run to its publication: the next run's window starts after its load."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "update quality.gate_runs set publication_id = %s where run_id = %s",
            (publication_id, run_id),
        )


def run_gate(dsn: str, cutoff: date | None = None, project_dir: Path = PROJECT_DIR) -> GateResult:
    """Validate the window's raw load and `marts_candidate`; keep the results in `quality.*`.
    Without `cutoff`, the one a transform run started now would take (`data_cutoff`)."""
    cutoff = cutoff or data_cutoff.for_instant(datetime.now(UTC))
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
    with psycopg.connect(dsn, autocommit=True) as conn:
        ensure_tables(conn)
        _open_window(conn, run_id, cutoff)
    gate = GateResult(run_id, cutoff)
    try:
        gate.results, gate.data_docs = _gx_results(project_dir, dsn)
        _add_samples(dsn, gate.results)
    except Exception as exc:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "update quality.gate_runs set status = 'error', finished_at = now(),"
                " message = %s where run_id = %s",
                (f"{type(exc).__name__}: {exc}"[:2000], run_id),
            )
        raise
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into quality.check_results (run_id, suite, check_name, kind, severity,"
                " passed, observed_value, threshold, description, sample, exception)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        run_id,
                        r.suite,
                        r.name,
                        r.kind,
                        r.severity,
                        r.passed,
                        r.observed,
                        r.threshold,
                        r.description,
                        json.dumps(r.sample, ensure_ascii=False) if r.sample else None,
                        r.exception,
                    )
                    for r in gate.results
                ],
            )
        conn.execute(
            "update quality.gate_runs set status = %s, finished_at = now(), checks_run = %s,"
            " errors = %s, warnings = %s, data_docs = %s, message = %s where run_id = %s",
            (
                "passed" if gate.passed else "failed",
                len(gate.results),
                len(gate.failed_errors),
                len(gate.failed_warnings),
                str(gate.data_docs) if gate.data_docs else None,
                gate.summary()[:4000],
                run_id,
            ),
        )
    return gate
