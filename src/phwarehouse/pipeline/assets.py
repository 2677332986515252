"""Assets that link the DAGs: ingestion produces raw data, the transform consumes it.

`raw_platform` is the platform's API feed as a whole (`platform_ingest`) and `raw_population`
the bureau's population table (`file_drop_ingest`): the transform is scheduled on both. Each
platform entity table `raw.<entity>` is also an Asset of its own (`RAW_ENTITIES`, declared once
from the entity schema), updated by the API feed and by the platform's XLSX exports in the drop
folder; the transform does not wait for them, so rows from an XLSX drop are modelled with the
next platform run, while a DAG that needs one table can be scheduled on its Asset.
"""

from airflow.sdk import Asset

from phwarehouse.platform.schema import ENTITY_NAMES


def raw_table(table: str) -> Asset:
    """The Asset of the raw table `raw.<table>`."""
    return Asset(name=f"raw_{table}", uri=f"warehouse://raw/{table}")


RAW_PLATFORM = Asset(name="raw_platform", uri="warehouse://raw/platform")
RAW_POPULATION = Asset(name="raw_population", uri="warehouse://raw/stat_population")
#: raw.<entity> of every platform entity (what the API feed and an XLSX drop can write)
RAW_ENTITIES: dict[str, Asset] = {name: raw_table(name) for name in ENTITY_NAMES}
MARTS = Asset(name="marts", uri="warehouse://marts")  # published (write-audit-publish)
# built by dbt, not yet validated: the quality gate reads it and publishes it as MARTS
MARTS_CANDIDATE = Asset(name="marts_candidate", uri="warehouse://marts_candidate")
