{{ config(pre_hook="{{ staging_delete_tombstoned('htn_registry') }}") }}

{#-
    Staging: htn_registry (高血压患者管理卡) from source platform.htn_registry.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'htn_registry') }}

),

latest as (

    select
        record_id,
        version,
        source_updated_at,
        loaded_at,
        payload
    from source
    where
        is_latest and not is_deleted
        {{ staging_loaded_since() }}

),

typed as (

    select
        record_id,
        version as record_version,
        source_updated_at,
        loaded_at,
        nullif(btrim(payload ->> 'person_record_id'), '') as person_record_id,
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        (jsonb_path_query_first(
            payload -> 'diagnosed_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as diagnosed_on,
        (jsonb_path_query_first(
            payload -> 'enrolled_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as enrolled_on,
        (jsonb_path_query_first(
            payload -> 'withdrawn_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as withdrawn_on,
        nullif(btrim(payload ->> 'withdraw_reason'), '') as withdraw_reason
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        facility_code,
        diagnosed_on,
        enrolled_on,
        withdrawn_on,
        withdraw_reason
    from typed

)

select * from final
