{{ config(**person_window_config()) }}
{#- without_nested_loops(): the follow-ups per window are estimated at a few rows, and with the
    staging tables' key indexes the planner joined them to every registry row in a nested loop
    that re-sorted them each time (a one-day scope of 4,335 persons at 600,000 residents:
    8.3 s; with hash joins 0.27 s, and 0.79 s before the indexes; a full build 2.3 s either
    way) -#}
{{ config(pre_hook=without_nested_loops()) }}

{#-
    Severe mental disorders (spec §2 Chronic disease): one row per merged person x reporting
    period for every person whose SMD registry card puts them in care during the window
    (enrolled_on <= period_end, not withdrawn before window_start), with:
    - is_registered: a card in care with one of the 6 diagnoses (精神分裂症, 分裂情感性障碍,
      偏执性精神病, 双相情感障碍, 癫痫所致精神障碍, 精神发育迟滞伴发精神障碍) and living at home
      (living_at_home true; unknown = not at home), the person alive at window_start (the
      managed-patient rule of the chronic section; no age limit) and attributed to a facility;
    - months_in_care / required_followups as for hypertension: months from max(window_start,
      enrolment month) to period_end inclusive, ceil(months / 3);
    - qualifying_followups: distinct dates in the window of face-to-face follow-ups with a
      danger-level assessment (danger_level 0-5). The required follow-ups of the chronic section
      are face-to-face: telephone follow-ups do not count;
    - is_std_managed: registered and qualifying_followups >= required_followups;
    - is_stable: registered and the most recent follow-up in the window (any mode; ties on the
      date: highest record id) has stability 稳定 (基本稳定, 不稳定 or none are not stable); no
      follow-up in the window = not stable.
    Registry cards and follow-ups count only when int_service_records does not exclude them.
    Incremental (macros/person_windows.sql, periods=true: one row per reported period, not
    per window): a run recomputes the persons whose records changed or crossed the cut-off,
    and everyone when reported periods started or left the history.
-#}
{%- set state = person_window_state(periods=true) -%}

{%- set danger_level_min = 0 -%}
{%- set danger_level_max = 5 -%}
{%- set stable_value = '稳定' -%}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

persons as (

    select * from {{ ref('int_persons') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

smd_registry as (

    select * from {{ ref('stg_platform__smd_registry') }}

),

smd_followups as (

    select * from {{ ref('stg_platform__smd_followups') }}

),

valid_services as (

    {{ counted_service_records(
        ['smd_registry', 'smd_followups'], where=person_window_person_filter(state, 'person_key')
    ) }}

),

registry_cards as (

    select
        s.person_key,
        r.enrolled_on,
        r.withdrawn_on
    from smd_registry as r
    inner join valid_services as s
        on s.entity = 'smd_registry' and r.record_id = s.record_id
    where
        btrim(r.diagnosis) in (
            '精神分裂症',
            '分裂情感性障碍',
            '偏执性精神病',
            '双相情感障碍',
            '癫痫所致精神障碍',
            '精神发育迟滞伴发精神障碍'
        )
        and coalesce(r.living_at_home, false)

),

registry_windows as (

    {{ managed_patient_windows('registry_cards', 'periods', 'persons', ['person_key']) }}

),

followups_in_window as (

    select
        s.person_key,
        p.period_key,
        f.record_id,
        f.followup_date,
        coalesce(f.is_face_to_face, false) as is_face_to_face,
        coalesce(
            f.danger_level between {{ danger_level_min }} and {{ danger_level_max }}, false
        ) as has_danger_assessment,
        f.stability
    from smd_followups as f
    inner join valid_services as s
        on s.entity = 'smd_followups' and f.record_id = s.record_id
    inner join periods as p
        on f.followup_date between p.window_start and p.period_end

),

followup_counts as (

    select
        person_key,
        period_key,
        count(*) as followups_in_window,
        count(distinct followup_date) filter (where is_face_to_face and has_danger_assessment)
            as qualifying_followups
    from followups_in_window
    group by person_key, period_key

),

last_followups as (

    select distinct on (person_key, period_key)
        person_key,
        period_key,
        followup_date as last_followup_date,
        stability as last_stability
    from followups_in_window
    order by person_key asc, period_key asc, followup_date desc, record_id desc

),

joined as (

    select
        rw.*,
        coalesce(fc.followups_in_window, 0) as followups_in_window,
        coalesce(fc.qualifying_followups, 0) as qualifying_followups,
        lf.last_followup_date,
        lf.last_stability
    from registry_windows as rw
    left join followup_counts as fc
        on rw.person_key = fc.person_key and rw.period_key = fc.period_key
    left join last_followups as lf
        on rw.person_key = lf.person_key and rw.period_key = lf.period_key

),

flagged as (

    select
        *,
        is_alive_at_window_start and facility_code is not null as is_registered
    from joined

),

final as (

    select
        person_sk,
        person_key,
        period_key,
        facility_code,
        window_start,
        period_end,
        enrolled_on,
        death_date,
        is_alive_at_window_start,
        is_registered,
        months_in_care,
        required_followups,
        followups_in_window,
        qualifying_followups,
        is_registered and qualifying_followups >= required_followups as is_std_managed,
        last_followup_date,
        last_stability,
        is_registered and coalesce(last_stability = '{{ stable_value }}', false) as is_stable,
        {{ person_window_build_columns(state) }}
    from flagged
    order by person_sk, period_key

)

select * from final
