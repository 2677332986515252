{{ config(**person_window_config()) }}

{#-
    CH_TCM per window (spec §2 Children, 0～36月儿童中医药健康管理服务率): one row per child with a
    health record x reporting period in which the child was aged 6-36 months at some point of the
    window [window_start, period_end] (denominator), flagged has_tcm_guidance when >= 1 TCM
    guidance record is dated in the window at an age of 6-36 months (numerator, a subset).

    Age in completed calendar months: a child is n months old from birth_date + n months
    (PostgreSQL month arithmetic, a 31st clamps to the month end), so "aged 6-36 months" is the
    interval [birth_date + 6 months, birth_date + 37 months - 1 day]: 5 months not, 6 and 36
    months yes, 37 not. Deliberate choices (spec leaves room):
    - "with a health record" = a merged person of int_persons (any EHR copy), attributed to a
      facility (persons without one are excluded, spec §6);
    - the child must be alive and its record not closed as moved out (迁出) during the part of
      the window in which it is aged 6-36 months: the eligible interval ends at the death date /
      move-out date;
    - guidance records excluded in int_service_records count nowhere; a guidance by any facility
      counts for the child's attributed facility;
    - the window is the spec's [window_start, period_end] also for a period that ends after
      the data cut-off (spec §1; reference choice W1): a child reaching 6 months in December of
      the current year is in that year's denominator;
    - "with a health record" is evaluated at the window end: the merged person's
      earliest EHR creation date must be <= window end. A child whose record was only created
      after the window (e.g. registered in 2026) is in no 2025 denominator or numerator, even
      when a guidance record dated in 2025 links to it (spec §1 evaluates statuses at the window
      end, like EHR_FILING's "created <= window end"; the annual value does not change when
      records are created later).
    Incremental (macros/person_windows.sql, periods=true): a child's rows depend only on the
    child's merged person, guidance records and the reported periods, so a run recomputes the
    persons whose records changed or crossed the cut-off, and everyone when reported periods
    started or left the history.
-#}
{%- set state = person_window_state(periods=true) -%}
{%- set tcm_min_age_months = var('tcm_min_age_months') -%}
{%- set tcm_max_age_months = var('tcm_max_age_months') -%}

with persons as (

    select * from {{ ref('int_persons') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

guidance as (

    {{ counted_service_records(
        ['child_tcm_guidance'], where=person_window_person_filter(state, 'person_key')
    ) }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

windows as (

    select
        period_key,
        window_start,
        period_end as window_end
    from periods

),

reporting_range as (

    select min(window_start) as first_day
    from periods

),

children as (

    select
        p.person_sk,
        p.person_key,
        p.attributed_facility_code as facility_code,
        p.birth_date,
        (p.birth_date + interval '{{ tcm_min_age_months }} months')::date as aged_from,
        (p.birth_date + interval '{{ tcm_max_age_months + 1 }} months')::date - 1 as aged_to,
        p.ehr_created_on,
        p.death_date,
        p.moved_out_on
    from persons as p
    cross join reporting_range as rr
    where
        not p.is_excluded_no_facility
        and p.birth_date is not null
        and p.birth_date
        >= rr.first_day - interval '{{ tcm_max_age_months + 1 }} months'

),

eligible as (

    select
        c.person_sk,
        c.person_key,
        c.facility_code,
        c.birth_date,
        c.aged_from,
        c.aged_to,
        r.period_key,
        greatest(r.window_start, c.aged_from) as eligible_from,
        least(r.window_end, c.aged_to, c.death_date, c.moved_out_on) as eligible_to,
        greatest(r.window_start, c.aged_from) as guidance_from,
        least(r.window_end, c.aged_to) as guidance_to
    from children as c
    inner join windows as r
        on
            c.aged_from <= r.window_end
            and c.aged_to >= r.window_start
            and c.ehr_created_on <= r.window_end

),

final as (

    select
        e.person_sk,
        e.person_key,
        e.period_key,
        e.facility_code,
        e.birth_date,
        e.aged_from,
        e.aged_to,
        e.eligible_from,
        e.eligible_to,
        count(g.service_date) as guidance_count,
        count(g.service_date) > 0 as has_tcm_guidance,
        {{ person_window_build_columns(state) }}
    from eligible as e
    left join guidance as g
        on
            e.person_key = g.person_key
            and g.service_date between e.guidance_from and e.guidance_to
    where e.eligible_from <= e.eligible_to
    group by
        e.person_sk,
        e.person_key,
        e.period_key,
        e.facility_code,
        e.birth_date,
        e.aged_from,
        e.aged_to,
        e.eligible_from,
        e.eligible_to
    order by e.person_sk, e.period_key

)

select * from final
