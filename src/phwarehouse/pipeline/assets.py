"""Assets that link the DAGs: ingestion produces raw data, the transform consumes it."""

from airflow.sdk import Asset

RAW_PLATFORM = Asset(name="raw_platform", uri="warehouse://raw/platform")
RAW_POPULATION = Asset(name="raw_population", uri="warehouse://raw/stat_population")
MARTS = Asset(name="marts", uri="warehouse://marts")  # published (write-audit-publish)
# built by dbt, not yet validated: the quality gate reads it and publishes it as MARTS
MARTS_CANDIDATE = Asset(name="marts_candidate", uri="warehouse://marts_candidate")
