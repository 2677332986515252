{{ config(**person_window_config()) }}

{#-
    Hypertension and type 2 diabetes (spec §2 Chronic disease): one row per condition (HTN /
    T2D) x merged person x reporting period for every person whose registry card puts them in
    care during the window (enrolled_on <= period_end and not withdrawn before window_start),
    with the flags int_indicator__chronic counts:
    - is_managed: such a registry patient who is alive at window_start (death_date null or
      >= window_start), aged >= 35 in completed years at period_end (service population; an
      unknown birth date is not >= 35) and attributed to a facility;
    - months_in_care = months from max(window_start, enrolment month) to period_end inclusive,
      required_followups = ceil(months_in_care / 3) (4 for a full year). With several cards of
      one person (duplicate EHRs, re-enrolment) the earliest enrolment of the cards in care counts;
    - qualifying_followups: distinct dates in the window of face-to-face follow-ups with a
      plausible reading (HTN: blood pressure, stg has_plausible_bp; T2D: fasting glucose,
      has_plausible_fbg). Telephone follow-ups and follow-ups with an unknown mode do not count;
      two follow-ups of one person on one day count once;
    - is_std_managed: managed and qualifying_followups >= required_followups and, when var
      std_mgmt_requires_annual_exam is true, a health exam in the window;
    - is_controlled: managed, and the most recent follow-up in the window (any mode) that has
      a plausible reading decides (ties on the date: highest record id). HTN: SBP < 140 and
      DBP < 90, or SBP < 150 and DBP < 90 when aged >= 65 (completed years) at that visit;
      T2D: fasting glucose < 7.0 mmol/L. No such follow-up = not controlled.
    Follow-ups, registry cards and exams count only when int_service_records does not exclude
    them (after the data cut-off, before birth, after death, unknown EHR); those of every copy
    of a duplicated EHR belong to the merged person.
    Incremental (macros/person_windows.sql): a run recomputes every window of the persons
    whose records changed or crossed the cut-off, and the new windows for everyone.
-#}

{%- set state = person_window_state() -%}
{%- set service_population_min_age = var('chronic_service_population_min_age') -%}
{%- set elderly_age = var('elderly_min_age') -%}
{%- set sbp_limit = var('htn_control_sbp_limit') -%}
{%- set sbp_limit_elderly = var('htn_control_sbp_limit_elderly') -%}
{%- set dbp_limit = var('htn_control_dbp_limit') -%}
{%- set fbg_limit = var('t2d_control_fbg_limit') -%}
{%- set requires_exam = var('std_mgmt_requires_annual_exam', false) | string | lower
    in ['true', '1', 'yes'] -%}

-- each distinct window once, under its coarsest period
with periods as (

    select * from {{ ref('int_reporting_windows') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

htn_registry as (

    select * from {{ ref('stg_platform__htn_registry') }}

),

t2d_registry as (

    select * from {{ ref('stg_platform__t2d_registry') }}

),

htn_followups as (

    select * from {{ ref('stg_platform__htn_followups') }}

),

t2d_followups as (

    select * from {{ ref('stg_platform__t2d_followups') }}

),

health_exams as (

    select * from {{ ref('stg_platform__health_exams') }}

),

valid_services as (

    {{ counted_service_records(
        ['htn_registry', 't2d_registry', 'htn_followups', 't2d_followups', 'health_exams'],
        where=person_window_person_filter(state, 'person_key'),
    ) }}

),

registry_cards as (

    select
        'HTN' as condition,
        s.person_key,
        r.enrolled_on,
        r.withdrawn_on
    from htn_registry as r
    inner join valid_services as s
        on s.entity = 'htn_registry' and r.record_id = s.record_id
    union all
    select
        'T2D' as condition,
        s.person_key,
        r.enrolled_on,
        r.withdrawn_on
    from t2d_registry as r
    inner join valid_services as s
        on s.entity = 't2d_registry' and r.record_id = s.record_id

),

registry_windows as (

    {{ managed_patient_windows(
        'registry_cards', 'periods', 'persons', ['condition', 'person_key'],
        where=person_window_in_scope(state, 'c.person_key', 'p.period_key'),
    ) }}

),

followups as (

    select
        'HTN' as condition,
        s.person_key,
        f.record_id,
        f.followup_date,
        coalesce(f.is_face_to_face, false) as is_face_to_face,
        coalesce(f.has_plausible_bp and f.sbp is not null and f.dbp is not null, false)
            as has_reading,
        f.sbp,
        f.dbp,
        null::numeric as fasting_glucose
    from htn_followups as f
    inner join valid_services as s
        on s.entity = 'htn_followups' and f.record_id = s.record_id
    where f.followup_date is not null
    union all
    select
        'T2D' as condition,
        s.person_key,
        f.record_id,
        f.followup_date,
        coalesce(f.is_face_to_face, false) as is_face_to_face,
        coalesce(f.has_plausible_fbg and f.fasting_glucose_mmol_l is not null, false)
            as has_reading,
        null::integer as sbp,
        null::integer as dbp,
        f.fasting_glucose_mmol_l as fasting_glucose
    from t2d_followups as f
    inner join valid_services as s
        on s.entity = 't2d_followups' and f.record_id = s.record_id
    where f.followup_date is not null

),

followup_days as (

    select
        condition,
        person_key,
        followup_date,
        count(*) as followup_records,
        bool_or(is_face_to_face) as has_face_to_face,
        bool_or(is_face_to_face and has_reading) as is_qualifying,
        bool_or(has_reading) as has_reading
    from followups
    group by condition, person_key, followup_date

),

day_readings as (

    -- the reading of a day: the highest record id among that day's follow-ups with one
    select distinct on (condition, person_key, followup_date)
        condition,
        person_key,
        followup_date,
        sbp,
        dbp,
        fasting_glucose
    from followups
    where has_reading
    order by condition asc, person_key asc, followup_date asc, record_id desc

),

followup_counts as (

    select
        d.condition,
        d.person_key,
        p.period_key,
        sum(d.followup_records)::bigint as followups_in_window,
        count(*) filter (where d.has_face_to_face) as face_to_face_followups,
        count(*) filter (where d.is_qualifying) as qualifying_followups,
        max(d.followup_date) filter (where d.has_reading) as last_reading_date
    from followup_days as d
    inner join periods as p
        on
            d.followup_date between p.window_start and p.period_end
            and {{ person_window_in_scope(state, 'd.person_key', 'p.period_key') }}
    group by d.condition, d.person_key, p.period_key

),

exams_in_window as (

    select distinct
        s.person_key,
        p.period_key
    from health_exams as e
    inner join valid_services as s
        on s.entity = 'health_exams' and e.record_id = s.record_id
    inner join periods as p
        on
            e.exam_date between p.window_start and p.period_end
            and {{ person_window_in_scope(state, 's.person_key', 'p.period_key') }}

),

-- materialized: its columns (the ages above all) are otherwise expanded into each of their
-- references in flagged and final (at 600 k: 32.1 s instead of 38.6 s for the whole select)
joined as materialized (

    select
        rw.*,
        extract(year from age(rw.period_end, rw.birth_date))::integer as age_at_window_end,
        coalesce(fc.followups_in_window, 0) as followups_in_window,
        coalesce(fc.face_to_face_followups, 0) as face_to_face_followups,
        coalesce(fc.qualifying_followups, 0) as qualifying_followups,
        ex.person_key is not null as has_exam_in_window,
        fc.last_reading_date,
        dr.sbp as last_sbp,
        dr.dbp as last_dbp,
        dr.fasting_glucose as last_fasting_glucose,
        extract(year from age(fc.last_reading_date, rw.birth_date))::integer
            as age_at_last_reading
    from registry_windows as rw
    left join followup_counts as fc
        on
            rw.condition = fc.condition
            and rw.person_key = fc.person_key
            and rw.period_key = fc.period_key
    left join day_readings as dr
        on
            fc.condition = dr.condition
            and fc.person_key = dr.person_key
            and fc.last_reading_date = dr.followup_date
    left join exams_in_window as ex
        on rw.person_key = ex.person_key and rw.period_key = ex.period_key

),

flagged as (

    select
        *,
        coalesce(age_at_window_end >= {{ service_population_min_age }}, false)
            as is_service_population,
        is_alive_at_window_start
        and coalesce(age_at_window_end >= {{ service_population_min_age }}, false)
        and facility_code is not null as is_managed,
        is_alive_at_window_start
        and coalesce(age_at_window_end >= {{ service_population_min_age }}, false)
        and facility_code is not null
        and coalesce(
            case condition
                when 'HTN'
                    then
                        last_dbp < {{ dbp_limit }}
                        and (
                            last_sbp < {{ sbp_limit }}
                            or (
                                age_at_last_reading >= {{ elderly_age }}
                                and last_sbp < {{ sbp_limit_elderly }}
                            )
                        )
                when 'T2D' then last_fasting_glucose < {{ fbg_limit }}
            end,
            false
        ) as is_controlled
    from joined

),

final as (

    select
        condition,
        person_sk,
        period_key,
        window_start,
        period_end,
        facility_code,
        enrolled_on,
        death_date,
        age_at_window_end,
        is_alive_at_window_start,
        is_service_population,
        is_managed,
        months_in_care,
        required_followups,
        followups_in_window,
        face_to_face_followups,
        qualifying_followups,
        has_exam_in_window,
        is_managed
        and qualifying_followups >= required_followups
        {%- if requires_exam %}
            and has_exam_in_window
        {%- endif %} as is_std_managed,
        last_reading_date,
        last_sbp,
        last_dbp,
        last_fasting_glucose,
        age_at_last_reading,
        is_controlled,
        {{ person_window_build_columns(state) }}
    from flagged
    order by person_sk, condition, period_key

)

select * from final
