{{ config(pre_hook="{{ staging_delete_tombstoned('newborn_visits') }}") }}

{#-
    Staging: newborn_visits (新生儿家庭访视) from source platform.newborn_visits.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'newborn_visits') }}

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
        nullif(btrim(payload ->> 'mother_person_record_id'), '') as mother_person_record_id,
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        (jsonb_path_query_first(
            payload -> 'visit_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as visit_date,
        (jsonb_path_query_first(
            payload -> 'birth_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as birth_date,
        round((jsonb_path_query_first(
            payload -> 'gestational_week_at_birth',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as gestational_week_at_birth,
        nullif(btrim(payload ->> 'doctor_name'), '') as doctor_name,
        round((jsonb_path_query_first(
            payload -> 'birth_weight_g',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as birth_weight_g_raw
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        mother_person_record_id,
        facility_code,
        visit_date,
        birth_date,
        gestational_week_at_birth,
        doctor_name,
        birth_weight_g_raw,
        {{ plausible_or_null('birth_weight_g_raw', 'birth_weight_g') }} as birth_weight_g
    from typed

)

select * from final
