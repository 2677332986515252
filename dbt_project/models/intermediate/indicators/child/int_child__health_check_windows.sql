{{ config(**change_scope_config(
    'child_key_scope', indexes=[{'columns': ['child_key', 'period_key'], 'unique': true}]
)) }}

{#-
    CH_HEALTH_MGMT numerator per window (spec §2 Children, cumulative coverage): one row per
    child x reporting period with >= 1 health check in the window [window_start, period_end] at
    an age of 0-6 years (under 7 years at the check date: check_date < birth_date + 7 years).
    Health checks = child health checks (儿童健康检查) and newborn home visits (新生儿访视),
    non-excluded records only (int_service_records: no checks after the cut-off, before birth,
    after death, or attached to no EHR).

    The child is the merged person (person_key). A newborn visit whose newborn has no EHR yet
    counts as its own child (child_key 'NBV:' || the newborn record id on the visit), with the
    birth date on the visit, attributed to the mother's facility (spec §6). A newborn whose own
    record has no attributable facility also falls back to the mother's. Age uses the birth date
    (int_persons, else the visit's); a child with no known birth date is not counted.
    Incremental by child (macros/child_key_scope.sql): a run recomputes the children whose
    records, person or mothers changed, and everyone when reported periods started or left
    the history.
-#}
{%- set state = child_key_scope_state() -%}
{#- spec §1: "aged 0-6" = under child_max_age_years + 1 years -#}
{%- set child_age_limit_years = var('child_max_age_years') + 1 -%}

with service_records as (

    select * from {{ ref('int_service_records') }}

),

-- "not materialized": read more than once, yet inlined so the planner sees table statistics
persons as not materialized (

    select * from {{ ref('int_persons') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

{% if state['mode'] == 'incremental' -%}
    scope as (

        {{ child_key_scope(state) }}

    ),
{%- endif %}

checks as (

    select
        s.entity,
        s.record_id,
        {{ child_key('s.person_key', 's.person_record_id') }} as child_key,
        s.person_key,
        s.service_date as check_date,
        s.person_birth_date as birth_date,
        case
            when s.entity = 'newborn_visits'
                then coalesce(p.attributed_facility_code, m.attributed_facility_code)
            else p.attributed_facility_code
        end as facility_code
    from service_records as s
    left join persons as p on s.person_key = p.person_key
    left join persons as m on s.mother_person_key = m.person_key
    where
        s.entity in ('child_health_checks', 'newborn_visits')
        and not s.is_excluded
        {%- if state['mode'] == 'incremental' %}
            and {{ child_key('s.person_key', 's.person_record_id') }}
            in (select scope.child_key from scope)
        {%- endif %}
        and s.service_date
        < s.person_birth_date + interval '{{ child_age_limit_years }} years'

),

windows as (

    select
        c.child_key,
        r.period_key,
        min(c.person_key) as person_key,
        min(c.facility_code) as facility_code,
        count(*) as check_count,
        count(*) filter (where c.entity = 'newborn_visits') as newborn_visit_count,
        min(c.check_date) as first_check_date
    from checks as c
    inner join periods as r
        on c.check_date between r.window_start and r.period_end
    where c.facility_code is not null
    group by c.child_key, r.period_key

),

-- in an incremental run, the children in scope too, for the strategy (macros/
-- child_key_scope.sql): a row each with a null period_key, which it deletes the children's
-- rows by and never stores
scoped as (

    select * from windows
    {%- if state['mode'] == 'incremental' %}
        union all
        select
            child_key,
            null::text as period_key,
            null::text as person_key,
            null::text as facility_code,
            null::bigint as check_count,
            null::bigint as newborn_visit_count,
            null::date as first_check_date
        from scope
    {%- endif %}

),

final as (

    select
        child_key,
        period_key,
        person_key,
        facility_code,
        check_count,
        newborn_visit_count,
        first_check_date,
        {{ person_window_build_columns(state, built_at=true) }}
    from scoped

)

select * from final
order by child_key, period_key
