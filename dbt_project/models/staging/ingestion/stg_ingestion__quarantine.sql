{{ config(materialized='table', indexes=[{'columns': ['quarantine_id'], 'unique': true}]) }}

{#-
    Staging: the ingestion's quarantine without its payloads (they hold names and ID numbers):
    one row per quarantined row with its entity, source, reason (split into the kind and the
    field it names, 'missing_person_ref:person_record_id' -> missing_person_ref +
    person_record_id) and the day it was received. A table rebuilt each run (small).
-#}

with source as (

    select * from {{ source('ingestion', 'quarantine') }}

),

final as (

    select
        quarantine_id,
        entity,
        source as ingestion_source,
        batch_id,
        record_id,
        reason,
        split_part(reason, ':', 1) as reason_kind,
        nullif(split_part(reason, ':', 2), '') as reason_field,
        received_at,
        (received_at at time zone '{{ var("reporting_timezone") }}')::date as received_on
    from source

)

select * from final
