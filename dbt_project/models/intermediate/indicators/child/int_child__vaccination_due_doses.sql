{{ config(**person_window_config()) }}

{#-
    CH_VACCINATION building block (spec §2 Children): one row per child with a health record x
    scheduled dose (vaccine_code, dose_number) whose due date falls within the reporting
    periods' range (first window start .. last period end).

    - Schedule: the versioned seed immunization_schedule, chosen by birth date
      (valid_for_birth_from .. valid_for_birth_to): children born from 2025-01-01 follow the
      2025 version (百白破 DTaP at 2/4/6/18 months and 6 years, no 白破 DT), earlier births the
      2021 version (DTaP 3/4/5/18 months, DT at 6 years).
    - due_date = birth_date + age_months calendar months (PostgreSQL month arithmetic: a 31st
      clamps to the month end).
    - is_due: alive at the due date (no death before it; dying on the due date still counts as
      due) and the health record not closed as moved out (迁出) before it. "With a health
      record" = a merged person of int_persons (any EHR copy) attributed to a facility.
    - Received: a non-excluded vaccination record (int_service_records: not after the data
      cut-off, not before birth / after death, known EHR) of the same merged person with the
      same vaccine and dose number, at any date (before or after the due date or the window).
      Vaccine codes are compared after normalisation (trimmed, upper-cased, '-' -> '_'): the
      platform sends JE-L / MPSV-A / MPSV-AC / HepA-L where the seed has JE_L / MPSV_A ...
      Records without a vaccine code or dose number cannot match a scheduled dose.
    - ehr_created_on (earliest EHR creation of the merged person) is carried along: "with a
      health record" is a per-window test (created <= window end) applied in
      int_child__vaccination_windows.
    Incremental (macros/person_windows.sql, periods=true): a child's doses depend only on the
    child's merged person, vaccinations and the reported periods' range, so a run recomputes
    the persons whose records changed or crossed the cut-off, and everyone when reported
    periods started or left the history.
-#}
{%- set state = person_window_state(periods=true) -%}

with persons as (

    select * from {{ ref('int_persons') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

schedule as (

    select * from {{ ref('immunization_schedule') }}

),

vaccinations as (

    select * from {{ ref('stg_platform__vaccinations') }}

),

counted_vaccinations as (

    {{ counted_service_records(
        ['vaccinations'], where=person_window_person_filter(state, 'person_key')
    ) }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

reporting_range as (

    select
        min(p.window_start) as first_day,
        max(p.period_end) as last_day,
        (select max(s.age_months) from schedule as s) as max_age_months
    from periods as p

),

children as (

    select
        p.person_sk,
        p.person_key,
        p.attributed_facility_code as facility_code,
        p.birth_date,
        p.death_date,
        p.moved_out_on,
        p.ehr_created_on
    from persons as p
    cross join reporting_range as rr
    where
        not p.is_excluded_no_facility
        and p.birth_date is not null
        and p.birth_date <= rr.last_day
        and p.birth_date >= rr.first_day - make_interval(months => rr.max_age_months)

),

scheduled_doses as (

    select
        c.person_sk,
        c.person_key,
        c.facility_code,
        c.birth_date,
        c.death_date,
        c.moved_out_on,
        c.ehr_created_on,
        s.schedule_version,
        s.vaccine_code,
        s.dose_number,
        s.age_months,
        (c.birth_date + make_interval(months => s.age_months))::date as due_date
    from children as c
    inner join schedule as s
        on c.birth_date between s.valid_for_birth_from and s.valid_for_birth_to

),

doses_in_range as (

    select sd.*
    from scheduled_doses as sd
    cross join reporting_range as rr
    where sd.due_date between rr.first_day and rr.last_day

),

received as (

    select
        s.person_key,
        upper(replace(btrim(v.vaccine_code), '-', '_')) as vaccine_code_key,
        v.dose_number,
        min(v.vaccination_date) as first_received_on,
        count(*) as record_count
    from vaccinations as v
    inner join counted_vaccinations as s on v.record_id = s.record_id
    where
        v.vaccine_code is not null
        and v.dose_number is not null
    group by
        s.person_key,
        upper(replace(btrim(v.vaccine_code), '-', '_')),
        v.dose_number

),

final as (

    select
        d.person_sk,
        d.person_key,
        d.vaccine_code,
        d.dose_number,
        d.schedule_version,
        d.age_months,
        d.facility_code,
        d.birth_date,
        d.due_date,
        d.death_date,
        d.moved_out_on,
        d.ehr_created_on,
        coalesce(d.death_date >= d.due_date, true) as is_alive_at_due_date,
        coalesce(d.moved_out_on >= d.due_date, true) as is_record_open_at_due_date,
        coalesce(d.death_date >= d.due_date, true)
        and coalesce(d.moved_out_on >= d.due_date, true) as is_due,
        rc.first_received_on,
        rc.first_received_on is not null as is_received,
        {{ person_window_build_columns(state) }}
    from doses_in_range as d
    left join received as rc
        on
            d.person_key = rc.person_key
            and upper(d.vaccine_code) = rc.vaccine_code_key
            and d.dose_number = rc.dose_number
    order by d.person_sk, d.vaccine_code, d.dose_number

)

select * from final
