{{ config(**person_window_config()) }}

{#-
    One row per health examination (健康体检) that counts (int_service_records not excluded),
    with its completeness against the configurable required-field list (seed
    elderly_exam_required_fields, is_required = true; spec §2 ELD_HEALTH_MGMT).
    Each field_key of the seed is mapped to the stg_platform__health_exams column(s) that record
    it (the case in `final` below). A measurement counts only when plausible (spec §6): blood pressure
    only when has_plausible_bp (both readings in range and SBP > DBP), height / weight / fasting
    glucose only when the cleaned value is not null. Grouped items need every component:
    blood_routine = haemoglobin, white cells and platelets; urine_routine = urine protein and
    urine glucose. A required field_key without a mapping here counts as missing (fail closed),
    so adding an unknown key to the seed can never make exams complete by accident.
    Incremental (macros/person_windows.sql): a run recomputes the exams of the persons whose
    records changed or crossed the cut-off. Its rows are per examination, not per window
    (periods=true): it is recomputed whole when reported periods start or go, monthly.
-#}
{%- set state = person_window_state(periods=true) -%}

with exams as (

    select * from {{ ref('stg_platform__health_exams') }}

),

counted as (

    {{ counted_service_records(
        ['health_exams'], where=person_window_person_filter(state, 'person_key')
    ) }}

),

persons as (

    select * from {{ ref('int_persons') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

required_fields as (

    select * from {{ ref('elderly_exam_required_fields') }}

),

counted_exams as (

    select
        e.*,
        c.person_key,
        p.person_sk
    from exams as e
    inner join counted as c on e.record_id = c.record_id
    inner join persons as p on c.person_key = p.person_key

),

final as (

    -- per exam, its required items (a few dozen rows each) are aggregated on their own: one
    -- small sort per exam for the ordered list, not a sort of every exam x item row (at 100 k
    -- residents 0.9 s -> 0.3 s). A lateral subquery reads the exam's columns: no CTE can.
    select
        ce.person_sk,
        ce.record_id as exam_record_id,
        ce.person_key,
        ce.exam_date,
        c.required_field_count,
        c.missing_required_field_count,
        c.missing_required_fields,
        c.missing_required_field_count = 0 as is_complete,
        coalesce(ce.health_guidance_given, ce.health_guidance is not null, false)
            as has_health_guidance,
        ce.tcm_constitution is not null as has_tcm_constitution,
        ce.tcm_guidance is not null as has_tcm_guidance,
        {{ person_window_build_columns(state) }}
    from counted_exams as ce
    cross join lateral (  -- noqa: ST05
        select
            count(*) as required_field_count,
            count(*) filter (where not items.is_present) as missing_required_field_count,
            string_agg(items.field_key, ',' order by items.field_key) filter (
                where not items.is_present
            ) as missing_required_fields
        from (
            -- one row per required item; the case maps each seed field_key to its column(s)
            select
                rf.field_key,
                coalesce(
                    case rf.field_key
                        when 'lifestyle_assessment' then ce.lifestyle_assessment is not null
                        when 'self_care_assessment' then ce.self_care_score is not null
                        when 'sbp' then ce.has_plausible_bp and ce.sbp is not null
                        when 'dbp' then ce.has_plausible_bp and ce.dbp is not null
                        when 'height_cm' then ce.height_cm is not null
                        when 'weight_kg' then ce.weight_kg is not null
                        when 'waist_cm' then ce.waist_cm is not null
                        when 'blood_routine'
                            then
                                ce.hemoglobin_g_l is not null
                                and ce.wbc_10e9_l is not null
                                and ce.platelets_10e9_l is not null
                        when 'urine_routine'
                            then ce.urine_protein is not null and ce.urine_glucose is not null
                        when 'alt' then ce.alt_u_l is not null
                        when 'ast' then ce.ast_u_l is not null
                        when 'total_bilirubin' then ce.total_bilirubin_umol_l is not null
                        when 'creatinine' then ce.creatinine_umol_l is not null
                        when 'urea' then ce.urea_mmol_l is not null
                        when 'fasting_glucose' then ce.fasting_glucose_mmol_l is not null
                        when 'tc' then ce.tc_mmol_l is not null
                        when 'tg' then ce.tg_mmol_l is not null
                        when 'ldl_c' then ce.ldl_c_mmol_l is not null
                        when 'hdl_c' then ce.hdl_c_mmol_l is not null
                        when 'ecg' then ce.ecg_result is not null
                        when 'abdominal_ultrasound' then ce.abdominal_ultrasound_result is not null
                        -- a required key without a mapping counts as missing (fail closed)
                        else false
                    end,
                    false
                ) as is_present
            from required_fields as rf
            where rf.is_required
        ) as items
    ) as c

)

select * from final
order by person_sk, exam_record_id
