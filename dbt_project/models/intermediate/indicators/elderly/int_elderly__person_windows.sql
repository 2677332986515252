{{ config(**person_window_config()) }}

{#-
    Person-level elderly facts per reporting window (spec §2 Elderly): one row per person x
    period_key for persons
    - aged >= 65 in the window's assessment year Y (birth year <= Y - 65, spec §1),
    - with an EHR created on or before the window end ("with an EHR"),
    - attributed to a facility (int_persons.attributed_facility_code; persons with
      is_excluded_no_facility are excluded, spec §6),
    - with at least one counted health examination dated in the window [window_start, period_end].
    Flags (each evaluated per examination, then "any exam in the window"):
    - is_health_managed (ELD_HEALTH_MGMT): an exam in the window that is complete
      (int_elderly__exam_completeness) AND has health guidance recorded on that same exam
      (guidance is part of the examination service);
    - is_tcm_managed (ELD_TCM): an exam in the window with both a TCM constitution
      identification and TCM health guidance recorded on that same exam.
    Incremental (macros/person_windows.sql): a run recomputes every window of the persons
    whose records changed or crossed the cut-off, and the new windows for everyone.
-#}
{%- set state = person_window_state() -%}
{%- set elderly_min_age = var('elderly_min_age') -%}

with exams as (

    select * from {{ ref('int_elderly__exam_completeness') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

-- each distinct window once, under its coarsest period
periods as (

    select * from {{ ref('int_reporting_windows') }}

),

exam_windows as (

    select
        pr.period_key,
        pr.period_end,
        pr.assessment_year,
        e.person_key,
        e.exam_record_id,
        e.is_complete,
        e.has_health_guidance,
        e.has_tcm_constitution,
        e.has_tcm_guidance
    from exams as e
    inner join periods as pr
        on
            e.exam_date between pr.window_start and pr.period_end
            and {{ person_window_in_scope(state, 'e.person_key', 'pr.period_key') }}

),

eligible as (

    select
        ew.*,
        p.person_sk,
        p.attributed_facility_code as facility_code,
        p.birth_date
    from exam_windows as ew
    inner join persons as p on ew.person_key = p.person_key
    where
        not p.is_excluded_no_facility
        and p.ehr_created_on <= ew.period_end
        and extract(year from p.birth_date)::integer <= ew.assessment_year - {{ elderly_min_age }}

),

final as (

    select
        person_sk,
        period_key,
        facility_code,
        birth_date,
        assessment_year,
        count(*) as exams_in_window,
        bool_or(is_complete) as has_complete_exam,
        bool_or(has_health_guidance) as has_health_guidance,
        bool_or(is_complete and has_health_guidance) as is_health_managed,
        bool_or(has_tcm_constitution and has_tcm_guidance) as is_tcm_managed,
        {{ person_window_build_columns(state) }}
    from eligible
    group by person_sk, period_key, facility_code, birth_date, assessment_year
    order by person_sk, period_key

)

select * from final
