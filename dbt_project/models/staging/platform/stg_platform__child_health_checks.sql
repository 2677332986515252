{{ config(pre_hook="{{ staging_delete_tombstoned('child_health_checks') }}") }}

{#-
    Staging: child_health_checks (儿童健康检查) from source platform.child_health_checks.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'child_health_checks') }}

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
            payload -> 'check_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as check_date,
        round((jsonb_path_query_first(
            payload -> 'age_months',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as age_months,
        (jsonb_path_query_first(
            payload -> 'height_cm', '$.double()', '{}', true
        ))::numeric as height_cm,
        (jsonb_path_query_first(
            payload -> 'head_circumference_cm', '$.double()', '{}', true
        ))::numeric as head_circumference_cm,
        (jsonb_path_query_first(
            payload -> 'hemoglobin_g_l', '$.double()', '{}', true
        ))::numeric as hemoglobin_g_l,
        nullif(btrim(payload ->> 'development_assessment'), '') as development_assessment,
        (jsonb_path_query_first(
            payload -> 'weight_kg', '$.double()', '{}', true
        ))::numeric as weight_kg_raw
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
        check_date,
        age_months,
        height_cm,
        head_circumference_cm,
        hemoglobin_g_l,
        development_assessment,
        weight_kg_raw,
        {{ plausible_or_null('weight_kg_raw', 'weight_kg') }} as weight_kg
    from typed

)

select * from final
