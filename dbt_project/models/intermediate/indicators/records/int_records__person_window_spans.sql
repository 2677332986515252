{{ config(**person_window_config()) }}

{#-
    Health records and family doctors (spec §2): for every person who, at a window end
    (period_end), has an active EHR or an active family-doctor contract, the flags that
    int_indicator__records counts, stored as spans: one row per merged person (person_sk) and
    run of consecutive reporting windows (int_reporting_windows, ordered by period_end) with
    the same flags, from first_period_end to last_period_end. A person's flags rarely change
    from one month to the next, so this holds about a thirteenth of the person x window rows
    (int_records__person_windows gives them back, one per window).

    Every fact is first turned into date spans [span_start, span_end] (the window ends at
    which it holds) and merged per person and fact into a date multirange (range_agg). A
    person's flags can change only on a bound of those ranges, a birthday on which an age flag
    turns or the death date: the windows from the first one ending on or after such a date up
    to the next such window have the same flags, tested once, at the first of them (@>), and
    neighbouring runs with the same flags are merged. No person x window row is computed,
    which keeps a large district's full build fast:
    - ehr: the merged person's EHR from the earliest creation date of its copies to the day
      before the most recently updated copy was closed (死亡 / 迁出 or any other closure; spec
      §6: the merged person's state is that copy's, int_persons.ehr_closed_on). A person has
      an active EHR when it is open at period_end and the person is alive at period_end
      (int_persons.death_date > period_end or null); closed on period_end = moved out at
      window end.
    - contract: start_date .. end_date (open-ended without an end date): active at period_end
      when start <= period_end and (end is null or end >= period_end).
    - dynamic: a dynamic record (int_service_records.is_dynamic_record) dated d lies in the
      12 months ending at period_end (period_end + 1 day - 12 months .. period_end) exactly when
      period_end is in [d, d + 12 months - 1 day] (range_agg merges overlapping spans).
    - pregnant: registered_on .. the day before the pregnancy was closed or delivered, whichever
      comes first ("registered, not yet delivered"): delivered = her first delivery linked to
      it (deliveries.pregnancy_record_id) or dated on/after its registration (a delivery
      without a pregnancy reference ends it too; reference choice R4).
    - registry: hypertension / type 2 diabetes / severe mental disorder registry card from
      enrolled_on to the day before withdrawn_on (any diagnosis, any age).
    Service-type records (contracts, registry cards, pregnancies, deliveries, dynamic records)
    count only when int_service_records does not exclude them (after the data cut-off, before
    birth, after death, unknown EHR); records of every copy of a duplicated EHR belong to the
    merged person. Persons without an attributable facility (is_excluded_no_facility) are left
    out. Ages are completed years at period_end (age 0-6 = under 7 at period_end).
    Incremental (macros/person_windows.sql): a run recomputes every span of the persons whose
    records changed or crossed the cut-off. A span stands for the windows that existed when it
    was built, so a run in which windows started or left the history recomputes every person
    (person_window_state(spans=true): about once a month).
-#}

{%- set open_end = "date '9999-12-31'" -%}
{%- set state = person_window_state(spans=true) -%}
{%- set elderly_min_age = var('elderly_min_age') -%}
{%- set child_max_age = var('child_max_age_years') -%}
{#- a span is a run of consecutive windows of one person with the same values of these -#}
{%- set span_columns = [
    'person_sk', 'facility_code', 'is_active_ehr', 'has_dynamic_record_12m',
    'has_active_contract', 'is_aged_65_plus', 'is_aged_0_6', 'is_pregnant',
    'is_in_chronic_registry', 'is_key_population',
] -%}
{#- each fact's spans merged per person into a date multirange, by its name in spans.fact -#}
{%- set date_sets = {
    'ehr': 'open_ehr_dates', 'contract': 'contract_dates', 'dynamic': 'dynamic_record_dates',
    'pregnant': 'pregnant_dates', 'registry': 'registry_dates',
} -%}

-- each distinct window once, under its coarsest period
with periods as (

    select * from {{ ref('int_reporting_windows') }}

),

-- the windows in time order: a span is a run of consecutive ones
window_sequence as (

    select
        period_key,
        period_end,
        row_number() over (order by period_end) as window_seq
    from periods

),

persons as (

    select * from {{ ref('int_persons') }}

),

contracts as (

    select * from {{ ref('stg_platform__family_doctor_contracts') }}

),

pregnancies as (

    select * from {{ ref('stg_platform__pregnancies') }}

),

deliveries as (

    select * from {{ ref('stg_platform__deliveries') }}

),

htn_registry as (

    select * from {{ ref('stg_platform__htn_registry') }}

),

t2d_registry as (

    select * from {{ ref('stg_platform__t2d_registry') }}

),

smd_registry as (

    select * from {{ ref('stg_platform__smd_registry') }}

),

-- every entity: the dynamic records are of any kind
valid_services as (

    {{ counted_service_records(where=person_window_person_filter(state, 'person_key')) }}

),

ehr_spans as (

    select
        person_key,
        'ehr' as fact,
        ehr_created_on as span_start,
        coalesce(ehr_closed_on - 1, {{ open_end }}) as span_end
    from persons
    where
        ehr_created_on is not null
        and {{ person_window_person_filter(state, 'person_key') }}

),

contract_spans as (

    select
        s.person_key,
        'contract' as fact,
        c.start_date as span_start,
        coalesce(c.end_date, {{ open_end }}) as span_end
    from contracts as c
    inner join valid_services as s
        on s.entity = 'family_doctor_contracts' and c.record_id = s.record_id
    where c.start_date is not null

),

dynamic_dates as (

    select distinct
        person_key,
        service_date
    from valid_services
    where
        is_dynamic_record
        and service_date is not null
        and {{ person_window_needs_history(
            state, 'person_key', 'service_date', "interval '12 months'"
        ) }}

),

dynamic_spans as (

    select
        person_key,
        'dynamic' as fact,
        service_date as span_start,
        (service_date + interval '12 months')::date - 1 as span_end
    from dynamic_dates

),

person_deliveries as (

    select
        s.person_key,
        d.pregnancy_record_id,
        d.delivery_date
    from deliveries as d
    inner join valid_services as s
        on s.entity = 'deliveries' and d.record_id = s.record_id
    where d.delivery_date is not null

),

registered_pregnancies as (

    select
        s.person_key,
        pg.record_id,
        pg.registered_on,
        pg.closed_on
    from pregnancies as pg
    inner join valid_services as s
        on s.entity = 'pregnancies' and pg.record_id = s.record_id
    where pg.registered_on is not null

),

first_deliveries as (

    -- a pregnancy ends at the first delivery of hers linked to it or dated on/after its
    -- registration (a delivery without a pregnancy reference ends it too)
    select
        rp.record_id as pregnancy_record_id,
        min(pd.delivery_date) as first_delivery_date
    from registered_pregnancies as rp
    inner join person_deliveries as pd
        on
            rp.person_key = pd.person_key
            and (
                rp.record_id = pd.pregnancy_record_id
                or rp.registered_on <= pd.delivery_date
            )
    group by rp.record_id

),

pregnancy_spans as (

    select
        rp.person_key,
        'pregnant' as fact,
        rp.registered_on as span_start,
        coalesce(least(rp.closed_on, fd.first_delivery_date) - 1, {{ open_end }}) as span_end
    from registered_pregnancies as rp
    left join first_deliveries as fd on rp.record_id = fd.pregnancy_record_id

),

registry_spans as (
    {% for registry in ['htn_registry', 't2d_registry', 'smd_registry'] %}
        select
            s.person_key,
            'registry' as fact,
            r.enrolled_on as span_start,
            coalesce(r.withdrawn_on - 1, {{ open_end }}) as span_end
        from {{ registry }} as r
        inner join valid_services as s
            on s.entity = '{{ registry }}' and r.record_id = s.record_id
        where r.enrolled_on is not null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

spans as (

    select * from ehr_spans
    union all
    select * from contract_spans
    union all
    select * from dynamic_spans
    union all
    select * from pregnancy_spans
    union all
    select * from registry_spans

),

person_date_sets as (

    select
        {%- for fact, dates in date_sets.items() %}
            range_agg(daterange(span_start, span_end, '[]')) filter (
                where fact = '{{ fact }}'
            ) as {{ dates }},
        {%- endfor %}
        person_key
    from spans
    where span_start <= span_end
    group by person_key

),

-- the persons with a facility, with what the windows need of them: joined once per person,
-- not once per person x window
attributed_date_sets as (

    select
        pr.person_sk,
        pr.attributed_facility_code as facility_code,
        pr.birth_date,
        pr.death_date,
        ds.*
    from person_date_sets as ds
    inner join persons as pr on ds.person_key = pr.person_key
    where not pr.is_excluded_no_facility
    order by pr.person_sk

),

-- the window ends in order, for width_bucket
window_ends as (

    select array_agg(period_end order by window_seq) as period_ends
    from window_sequence

),

-- the dates on which a person's flags can change: where a fact's date ranges start and end
-- (a daterange's upper bound is the first day after it), the birthdays on which the age
-- flags turn (age() in completed years turns on the day of the years added or the next:
-- 29 February; the negative ages before birth count as 0), the death date
person_boundaries as (

    select
        x.person_sk,
        b.boundary
    from attributed_date_sets as x
    cross join lateral (
        {%- for dates in date_sets.values() %}
            select lower(r) as boundary from unnest(x.{{ dates }}) as r
            union all
            select upper(r) as boundary from unnest(x.{{ dates }}) as r
            union all
        {%- endfor %}
        select x.death_date as boundary
        union all
        select (x.birth_date + make_interval(years => a.years))::date + d.days as boundary
        from
            (values (-1), ({{ child_max_age + 1 }}), ({{ elderly_min_age }})) as a (years),
            (values (0), (1)) as d (days)
    ) as b

),

-- a person's flags are the same in every window from one of these to the next: the first
-- window and the first window ending on or after each boundary (width_bucket: the number of
-- window ends before the boundary)
segment_starts as (

    select
        x.person_sk,
        1 as window_seq
    from attributed_date_sets as x
    union
    select
        pb.person_sk,
        width_bucket(pb.boundary - 1, we.period_ends) + 1 as window_seq
    from person_boundaries as pb
    cross join window_ends as we
    where pb.boundary <= we.period_ends[cardinality(we.period_ends)]

),

segments as (

    select
        s.person_sk,
        s.window_seq as first_seq,
        coalesce(
            lead(s.window_seq) over (partition by s.person_sk order by s.window_seq) - 1,
            cardinality(we.period_ends)
        ) as last_seq
    from segment_starts as s
    cross join window_ends as we

),

-- the flags of a segment: those at the end of its first window
flagged as (

    select
        x.person_sk,
        s.first_seq,
        s.last_seq,
        x.facility_code,
        extract(year from age(w.period_end, x.birth_date))::integer as age_at_window_end,
        x.death_date is null or x.death_date > w.period_end as is_alive_at_window_end,
        coalesce(x.open_ehr_dates @> w.period_end, false) as has_open_ehr_copy,
        coalesce(x.contract_dates @> w.period_end, false) as has_contract_in_force,
        coalesce(x.dynamic_record_dates @> w.period_end, false) as has_dynamic_record_12m,
        coalesce(x.pregnant_dates @> w.period_end, false) as is_pregnant,
        coalesce(x.registry_dates @> w.period_end, false) as is_in_chronic_registry
    from segments as s
    inner join attributed_date_sets as x on s.person_sk = x.person_sk
    inner join window_sequence as w on s.first_seq = w.window_seq

),

segment_flags as (

    select
        person_sk,
        first_seq,
        last_seq,
        facility_code,
        has_open_ehr_copy and is_alive_at_window_end as is_active_ehr,
        has_dynamic_record_12m,
        has_contract_in_force and is_alive_at_window_end as has_active_contract,
        coalesce(age_at_window_end >= {{ elderly_min_age }}, false) as is_aged_65_plus,
        coalesce(age_at_window_end between 0 and {{ child_max_age }}, false) as is_aged_0_6,
        is_pregnant,
        is_in_chronic_registry,
        coalesce(
            age_at_window_end >= {{ elderly_min_age }}
            or age_at_window_end between 0 and {{ child_max_age }},
            false
        )
        or is_pregnant
        or is_in_chronic_registry as is_key_population
    from flagged
    where is_alive_at_window_end and (has_open_ehr_copy or has_contract_in_force)

),

-- a span starts at a person's first segment, after a gap (windows in which the person has
-- neither an active EHR nor a contract) and where a flag changes
span_starts as (

    select
        *,
        coalesce(
            lag(last_seq) over person_segments <> first_seq - 1
            {%- for column in span_columns[1:] %}
                or lag({{ column }}) over person_segments is distinct from {{ column }}
            {%- endfor %},
            true
        ) as is_span_start
    from segment_flags
    window person_segments as (partition by person_sk order by first_seq)

),

islands as (

    select
        *,
        count(*) filter (where is_span_start) over (
            partition by person_sk order by first_seq
        ) as island
    from span_starts

),

final as (

    select
        i.person_sk,
        min(first_window.period_end) as first_period_end,
        max(last_window.period_end) as last_period_end,
        {%- for column in span_columns[1:] %}
            i.{{ column }},
        {%- endfor %}
        {{ person_window_build_columns(state) }}
    from islands as i
    inner join window_sequence as first_window on i.first_seq = first_window.window_seq
    inner join window_sequence as last_window on i.last_seq = last_window.window_seq
    group by
        {%- for column in span_columns %}
            i.{{ column }},
        {%- endfor %}
        i.island
    order by i.person_sk, first_period_end

)

select * from final
