{{ config(pre_hook="{{ staging_delete_tombstoned('prenatal_exams') }}") }}

{#-
    Staging: prenatal_exams (产前检查) from source platform.prenatal_exams.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'prenatal_exams') }}

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
        nullif(btrim(payload ->> 'pregnancy_record_id'), '') as pregnancy_record_id,
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        (jsonb_path_query_first(
            payload -> 'exam_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as exam_date,
        round((jsonb_path_query_first(
            payload -> 'exam_number',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as exam_number,
        round((jsonb_path_query_first(
            payload -> 'gestational_week',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as gestational_week,
        (jsonb_path_query_first(
            payload -> 'hemoglobin_g_l', '$.double()', '{}', true
        ))::numeric as hemoglobin_g_l,
        round((jsonb_path_query_first(
            payload -> 'sbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as sbp_raw,
        round((jsonb_path_query_first(
            payload -> 'dbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as dbp_raw,
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
        pregnancy_record_id,
        facility_code,
        exam_date,
        exam_number,
        gestational_week,
        hemoglobin_g_l,
        sbp_raw,
        dbp_raw,
        {{ cleaned_blood_pressure() }},
        weight_kg_raw,
        {{ plausible_or_null('weight_kg_raw', 'weight_kg') }} as weight_kg
    from typed

)

select * from final
