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
    which it holds), each span into the windows whose end it covers, and those into one bit
    per window (a bigint: bit n = window_seq n) per person and fact (bit_or). A person's flags
    can change only in a window where a fact starts or stops holding, at a birthday on which
    an age flag turns or at the death date: from such a window up to the next one the flags are
    the same, so they are tested once, at the end of the first (a segment), and neighbouring
    segments with the same flags are merged. No person x window row is computed, which keeps
    a large district's full build fast (at 100 k 3.6 s instead of 19.5 s for testing every
    window of every person):
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
      period_end is in [d, d + 12 months - 1 day] (bit_or merges overlapping spans).
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
{#- the flags of span_columns (never null) as the bits of one integer, compared at once -#}
{%- set flag_bits = [] -%}
{%- for column in span_columns[2:] -%}
    {%- do flag_bits.append('(' ~ column ~ '::integer << ' ~ loop.index0 ~ ')') -%}
{%- endfor -%}
{%- set flag_bits = '(' ~ flag_bits | join(' | ') ~ ')' -%}
{#- the facts, by their name in spans.fact, and the flag each gives -#}
{%- set fact_flags = {
    'ehr': 'has_open_ehr_copy', 'contract': 'has_contract_in_force',
    'dynamic': 'has_dynamic_record_12m', 'pregnant': 'is_pregnant',
    'registry': 'is_in_chronic_registry',
} -%}
{%- set facts = fact_flags.keys() | list -%}
{#- the dates on which an age or alive flag can turn (see attributed_window_bits) -#}
{%- set turning_dates = ['pr.death_date'] -%}
{%- for years in [-1, child_max_age | int + 1, elderly_min_age] -%}
    {%- for days in [0, 1] -%}
        {%- do turning_dates.append(
            "(pr.birth_date + interval '" ~ years ~ " years')::date + " ~ days
        ) -%}
    {%- endfor -%}
{%- endfor -%}

-- each distinct window once, under its coarsest period
with periods as (

    select * from {{ ref('int_reporting_windows') }}

),

-- the windows in time order: a span is a run of consecutive ones
window_sequence as (

    select
        period_key,
        period_end,
        (row_number() over (order by period_end))::integer as window_seq
    from periods

),

-- the window ends in order, for width_bucket
window_ends as (

    select
        array_agg(period_end order by window_seq) as period_ends,
        -- the windows are bits 1.. of a bigint (and the bit after the last marks a fact that
        -- stops after it): more than 61 windows stop the build (a text that is no integer)
        case
            when count(*) > 61
                then (
                    'int_records__person_window_spans: ' || count(*)
                    || ' reporting windows, at most 61 fit the window bits'
                )::integer
        end as too_many_windows
    from window_sequence

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

-- each span as the windows it covers: from the first window ending on or after span_start to
-- the last one ending on or before span_end (width_bucket: the number of window ends before
-- or on a date); none when the first comes after the last
span_windows as (

    select
        s.person_key,
        s.fact,
        width_bucket(s.span_start - 1, we.period_ends) + 1 as first_seq,
        width_bucket(s.span_end, we.period_ends) as last_seq
    from spans as s
    cross join window_ends as we
    where s.span_start <= s.span_end and we.too_many_windows is null

),

-- per person, one bit per window (bit n: window_seq n): for each fact the windows in which it
-- holds, and the windows in which some fact starts or stops holding
person_window_bits as (

    select
        {%- for fact in facts %}
            bit_or(
                case
                    when first_seq <= last_seq
                        then (1::bigint << (last_seq + 1)) - (1::bigint << first_seq)
                    else 0
                end
            ) filter (where fact = '{{ fact }}') as {{ fact }}_windows,
        {%- endfor %}
        bit_or((1::bigint << first_seq) | (1::bigint << (last_seq + 1))) as turning_windows,
        person_key
    from span_windows
    group by person_key

),

-- the persons with a facility, and the windows in which their flags can change: their first
-- window, where a fact starts or stops holding, the first window ending on or after the death
-- date or a birthday on which an age flag turns (age() in completed years turns on the day of
-- the years added or the next: 29 February; an age above -1 year, before birth, is 0)
attributed_window_bits as materialized (

    select
        pr.person_sk,
        pr.attributed_facility_code as facility_code,
        pr.birth_date,
        pr.death_date,
        {%- for fact in facts %}
            b.{{ fact }}_windows,
        {%- endfor %}
        b.turning_windows
        | 2
        {%- for date in turning_dates %}
            | coalesce(1::bigint << (width_bucket({{ date }} - 1, we.period_ends) + 1), 0)
        {%- endfor %} as segment_start_windows
    from person_window_bits as b
    inner join persons as pr on b.person_key = pr.person_key
    cross join window_ends as we
    where not pr.is_excluded_no_facility

),

-- a person's flags are the same in every window from a segment's start to the next one's
segments as (

    select
        x.*,
        w.window_seq as first_seq,
        coalesce(
            lead(w.window_seq) over (partition by x.person_sk order by w.window_seq) - 1,
            (select max(ws.window_seq) from window_sequence as ws)
        ) as last_seq
    from attributed_window_bits as x
    inner join window_sequence as w
        on x.segment_start_windows & (1::bigint << w.window_seq) <> 0

),

-- the flags of a segment: those at the end of its first window
flagged as materialized (

    select
        {%- for fact, flag in fact_flags.items() %}
            coalesce(s.{{ fact }}_windows & (1::bigint << s.first_seq) <> 0, false) as {{ flag }},
        {%- endfor %}
        s.person_sk,
        s.first_seq,
        s.last_seq,
        s.facility_code,
        extract(year from age(w.period_end, s.birth_date))::integer as age_at_window_end,
        s.death_date is null or s.death_date > w.period_end as is_alive_at_window_end
    from segments as s
    inner join window_sequence as w on s.first_seq = w.window_seq

),

segment_flags as materialized (

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
            or lag(facility_code) over person_segments <> facility_code
            or lag({{ flag_bits }}) over person_segments <> {{ flag_bits }},
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
