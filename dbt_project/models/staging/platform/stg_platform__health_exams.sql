{{ config(pre_hook="{{ staging_delete_tombstoned('health_exams') }}") }}

{#-
    Staging: health_exams (健康体检) from source platform.health_exams.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
    The adult height range of spec §5 is applied to every exam (health exams are adult
    services).
-#}

with source as (

    select * from {{ source('platform', 'health_exams') }}

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
            payload -> 'exam_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as exam_date,
        nullif(btrim(payload ->> 'lifestyle_assessment'), '') as lifestyle_assessment,
        round((jsonb_path_query_first(
            payload -> 'self_care_score',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as self_care_score,
        (jsonb_path_query_first(
            payload -> 'waist_cm', '$.double()', '{}', true
        ))::numeric as waist_cm,
        (jsonb_path_query_first(
            payload -> 'hemoglobin_g_l', '$.double()', '{}', true
        ))::numeric as hemoglobin_g_l,
        (jsonb_path_query_first(
            payload -> 'wbc_10e9_l', '$.double()', '{}', true
        ))::numeric as wbc_10e9_l,
        (jsonb_path_query_first(
            payload -> 'platelets_10e9_l', '$.double()', '{}', true
        ))::numeric as platelets_10e9_l,
        nullif(btrim(payload ->> 'urine_protein'), '') as urine_protein,
        nullif(btrim(payload ->> 'urine_glucose'), '') as urine_glucose,
        (jsonb_path_query_first(
            payload -> 'alt_u_l', '$.double()', '{}', true
        ))::numeric as alt_u_l,
        (jsonb_path_query_first(
            payload -> 'ast_u_l', '$.double()', '{}', true
        ))::numeric as ast_u_l,
        (jsonb_path_query_first(
            payload -> 'total_bilirubin_umol_l', '$.double()', '{}', true
        ))::numeric as total_bilirubin_umol_l,
        (jsonb_path_query_first(
            payload -> 'creatinine_umol_l', '$.double()', '{}', true
        ))::numeric as creatinine_umol_l,
        (jsonb_path_query_first(
            payload -> 'urea_mmol_l', '$.double()', '{}', true
        ))::numeric as urea_mmol_l,
        (jsonb_path_query_first(
            payload -> 'tc_mmol_l', '$.double()', '{}', true
        ))::numeric as tc_mmol_l,
        (jsonb_path_query_first(
            payload -> 'tg_mmol_l', '$.double()', '{}', true
        ))::numeric as tg_mmol_l,
        (jsonb_path_query_first(
            payload -> 'ldl_c_mmol_l', '$.double()', '{}', true
        ))::numeric as ldl_c_mmol_l,
        (jsonb_path_query_first(
            payload -> 'hdl_c_mmol_l', '$.double()', '{}', true
        ))::numeric as hdl_c_mmol_l,
        nullif(btrim(payload ->> 'ecg_result'), '') as ecg_result,
        nullif(btrim(payload ->> 'abdominal_ultrasound_result'), '') as abdominal_ultrasound_result,
        case
            when lower(btrim(payload ->> 'health_guidance_given')) in ('true', 't', '1', '是')
                then true
            when lower(btrim(payload ->> 'health_guidance_given')) in ('false', 'f', '0', '否')
                then false
        end as health_guidance_given,
        nullif(btrim(payload ->> 'health_guidance'), '') as health_guidance,
        nullif(btrim(payload ->> 'tcm_constitution'), '') as tcm_constitution,
        nullif(btrim(payload ->> 'tcm_guidance'), '') as tcm_guidance,
        round((jsonb_path_query_first(
            payload -> 'sbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as sbp_raw,
        round((jsonb_path_query_first(
            payload -> 'dbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as dbp_raw,
        (jsonb_path_query_first(
            payload -> 'height_cm', '$.double()', '{}', true
        ))::numeric as height_cm_raw,
        (jsonb_path_query_first(
            payload -> 'weight_kg', '$.double()', '{}', true
        ))::numeric as weight_kg_raw,
        (jsonb_path_query_first(
            payload -> 'fasting_glucose_mmol_l', '$.double()', '{}', true
        ))::numeric as fasting_glucose_mmol_l_raw
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
        exam_date,
        lifestyle_assessment,
        self_care_score,
        waist_cm,
        hemoglobin_g_l,
        wbc_10e9_l,
        platelets_10e9_l,
        urine_protein,
        urine_glucose,
        alt_u_l,
        ast_u_l,
        total_bilirubin_umol_l,
        creatinine_umol_l,
        urea_mmol_l,
        tc_mmol_l,
        tg_mmol_l,
        ldl_c_mmol_l,
        hdl_c_mmol_l,
        ecg_result,
        abdominal_ultrasound_result,
        health_guidance_given,
        health_guidance,
        tcm_constitution,
        tcm_guidance,
        sbp_raw,
        dbp_raw,
        {{ cleaned_blood_pressure() }},
        height_cm_raw,
        {{ plausible_or_null('height_cm_raw', 'height_cm') }} as height_cm,
        weight_kg_raw,
        {{ plausible_or_null('weight_kg_raw', 'weight_kg') }} as weight_kg,
        fasting_glucose_mmol_l_raw,
        {{ plausible_or_null('fasting_glucose_mmol_l_raw', 'fbg') }} as fasting_glucose_mmol_l,
        coalesce({{ is_plausible('fasting_glucose_mmol_l_raw', 'fbg') }}, false)
            as has_plausible_fbg
    from typed

)

select * from final
