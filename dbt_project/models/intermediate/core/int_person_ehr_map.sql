{{ config(materialized='table') }}

{#-
    Every EHR (stg_platform__residents.record_id) -> the merged person (person_key). Service
    records reference an EHR by person_record_id; join them here so the service records of every
    copy of a duplicated EHR belong to the merged person (spec §6).
    copy_rank 1 = the most recently updated copy (source_updated_at, then version, then record
    id, all descending): its managing facility is the person's.
-#}

with residents as (

    select * from {{ ref('stg_platform__residents') }}

),

ranked as (

    select
        record_id as ehr_record_id,
        person_key,
        ehr_created_on,
        source_updated_at,
        row_number() over (
            partition by person_key
            order by source_updated_at desc, record_version desc, record_id desc
        ) as copy_rank,
        count(*) over (partition by person_key) as person_ehr_count
    from residents

),

final as (

    select
        ehr_record_id,
        person_key,
        copy_rank,
        copy_rank = 1 as is_primary_copy,
        person_ehr_count,
        person_ehr_count > 1 as is_duplicated_person,
        ehr_created_on,
        source_updated_at
    from ranked

)

select * from final
