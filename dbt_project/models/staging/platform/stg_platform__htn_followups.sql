{{ config(pre_hook="{{ staging_delete_tombstoned('htn_followups') }}") }}

{#-
    Staging: htn_followups (高血压患者随访) from source platform.htn_followups.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'htn_followups') }}

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
            payload -> 'followup_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as followup_date,
        case
            when
                lower(btrim(payload ->> 'followup_mode'))
                in ('face_to_face', 'face-to-face', '面对面', '门诊', '家庭')
                then 'face_to_face'
            when lower(btrim(payload ->> 'followup_mode')) in ('telephone', 'phone', '电话')
                then 'telephone'
        end as followup_mode,
        round((jsonb_path_query_first(
            payload -> 'heart_rate',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as heart_rate,
        nullif(btrim(payload ->> 'medication_adherence'), '') as medication_adherence,
        (jsonb_path_query_first(
            payload -> 'next_followup_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as next_followup_date,
        nullif(btrim(payload ->> 'doctor_name'), '') as doctor_name,
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
        facility_code,
        followup_date,
        followup_mode,
        heart_rate,
        medication_adherence,
        next_followup_date,
        doctor_name,
        followup_mode = 'face_to_face' as is_face_to_face,
        sbp_raw,
        dbp_raw,
        {{ cleaned_blood_pressure() }},
        weight_kg_raw,
        {{ plausible_or_null('weight_kg_raw', 'weight_kg') }} as weight_kg
    from typed

)

select * from final
