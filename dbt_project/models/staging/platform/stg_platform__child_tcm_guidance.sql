{{ config(pre_hook="{{ staging_delete_tombstoned('child_tcm_guidance') }}") }}

{#-
    Staging: child_tcm_guidance (儿童中医药健康管理) from source platform.child_tcm_guidance.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'child_tcm_guidance') }}

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
            payload -> 'guidance_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as guidance_date,
        round((jsonb_path_query_first(
            payload -> 'age_months',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as age_months,
        nullif(btrim(payload ->> 'guidance_content'), '') as guidance_content
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
        guidance_date,
        age_months,
        guidance_content
    from typed

)

select * from final
