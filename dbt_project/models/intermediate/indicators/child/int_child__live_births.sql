{#- without_nested_loops(): the joins on record_id and on the mother are estimated at a few rows
    (the planner takes the record ids of every entity in int_service_records for those of
    one), and a nested loop over them compares every delivery with every visit (0.6 s at
    100,000 residents, growing with the square of the births; hash joins: 0.06 s) -#}
{{ config(materialized='table', pre_hook=without_nested_loops()) }}

{#-
    CH_NEWBORN_VISIT cohort (spec §2 Children): one row per live birth.

    Source of live births: the deliveries (分娩记录) of district mothers, expanded to one row per
    live birth (deliveries.live_births; a twin delivery gives 2 rows, birth_order 1 and 2). The
    birth date of a live birth is the delivery date. A delivery with live_births missing counts
    1 live birth when its outcome is 活产, else 0; stillbirths (0 live births) give no row.
    Deliveries excluded in int_service_records (after the data cut-off, unknown EHR ...) count
    nowhere.

    Newborns are identified through the newborn home visits: a visit belongs to a delivery when
    its mother's EHR maps to the delivering mother (person_key) and the newborn's birth date (on
    the visit, or on the newborn's own EHR) equals the delivery date. The newborn is its own
    person (person_key of the visit's person_record_id) when it has an EHR, else the newborn
    record id on the visit ('NBV:' || person_record_id). At most live_births newborns are
    assigned to a delivery (visited newborns first), so numerator <= denominator always holds.
    A live birth with no identified newborn (no newborn visit linking it to its mother) has no
    visit.

    has_visit_within_28d: >= 1 non-excluded newborn visit dated 0-28 days after the birth date
    (day 28 counts, day 29 does not), whatever its date relative to the window end.

    Attribution (spec §6): the newborn's own attributed facility when it has a health record
    (int_persons), else the mother's.
-#}
{%- set newborn_visit_max_days = var('newborn_visit_max_days') -%}

with deliveries as (

    select * from {{ ref('stg_platform__deliveries') }}

),

newborn_visits as (

    select * from {{ ref('stg_platform__newborn_visits') }}

),

-- the two entities read below: one scan of the records, not a copy of all of them
service_records as (

    select * from {{ ref('int_service_records') }}
    where entity in ('deliveries', 'newborn_visits')

),

persons as (

    select * from {{ ref('int_persons') }}

),

valid_deliveries as (

    select
        d.record_id as delivery_record_id,
        s.person_key as mother_person_key,
        d.delivery_date,
        d.outcome,
        d.live_births as live_births_recorded,
        coalesce(d.live_births, case when d.outcome = '活产' then 1 else 0 end) as live_births
    from deliveries as d
    inner join service_records as s
        on
            s.entity = 'deliveries'
            and d.record_id = s.record_id
    where
        not s.is_excluded
        and s.person_key is not null
        and d.delivery_date is not null

),

valid_visits as (

    select
        v.record_id as visit_record_id,
        s.person_key as newborn_person_key,
        {{ child_key('s.person_key', 'v.person_record_id') }} as newborn_key,
        s.mother_person_key,
        v.visit_date,
        v.birth_date as visit_birth_date,
        p.birth_date as ehr_birth_date
    from newborn_visits as v
    inner join service_records as s
        on
            s.entity = 'newborn_visits'
            and v.record_id = s.record_id
    left join persons as p on s.person_key = p.person_key
    where
        not s.is_excluded
        and s.mother_person_key is not null

),

visit_matches as (

    select
        d.delivery_record_id,
        d.delivery_date,
        v.newborn_key,
        v.newborn_person_key,
        v.visit_date,
        v.visit_birth_date = d.delivery_date as is_visit_birth_date_match
    from valid_deliveries as d
    inner join valid_visits as v
        on
            d.mother_person_key = v.mother_person_key
            and (
                d.delivery_date = v.visit_birth_date
                or d.delivery_date = v.ehr_birth_date
            )
    where d.live_births > 0

),

newborns as (

    select
        delivery_record_id,
        newborn_key,
        max(newborn_person_key) as newborn_person_key,
        min(visit_date) as first_visit_date,
        count(*) as visit_count,
        bool_or(
            visit_date between delivery_date and delivery_date + {{ newborn_visit_max_days }}
        ) as has_visit_within_28d,
        bool_or(is_visit_birth_date_match) as is_visit_birth_date_match
    from visit_matches
    group by delivery_record_id, newborn_key

),

-- a newborn belongs to one delivery only (the one matching the visit's own birth date first)
newborns_one_delivery as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by newborn_key
                order by is_visit_birth_date_match desc, delivery_record_id asc
            ) as delivery_rank
        from newborns
    ) as ranked
    where delivery_rank = 1

),

newborns_ranked as (

    select
        *,
        row_number() over (
            partition by delivery_record_id
            order by has_visit_within_28d desc, newborn_person_key is null asc, newborn_key asc
        ) as birth_order
    from newborns_one_delivery

),

live_birth_slots as (

    select
        d.delivery_record_id,
        d.mother_person_key,
        d.delivery_date,
        d.live_births,
        gs.birth_order
    from valid_deliveries as d
    cross join generate_series(1, d.live_births) as gs (birth_order)
    where d.live_births > 0

),

final as (

    select
        sl.delivery_record_id || '#' || sl.birth_order::text as live_birth_key,
        sl.delivery_record_id,
        sl.birth_order,
        sl.live_births as delivery_live_births,
        sl.delivery_date as birth_date,
        sl.mother_person_key,
        nb.newborn_key,
        nb.newborn_person_key,
        nb.newborn_person_key is not null as has_newborn_ehr,
        nb.first_visit_date,
        nb.first_visit_date - sl.delivery_date as days_to_first_visit,
        coalesce(nb.visit_count, 0) as visit_count,
        coalesce(nb.has_visit_within_28d, false) as has_visit_within_28d,
        coalesce(np.attributed_facility_code, mp.attributed_facility_code) as facility_code,
        case
            when np.attributed_facility_code is not null then 'newborn'
            when mp.attributed_facility_code is not null then 'mother'
        end as attribution_source
    from live_birth_slots as sl
    left join newborns_ranked as nb
        on
            sl.delivery_record_id = nb.delivery_record_id
            and sl.birth_order = nb.birth_order
    left join persons as np on nb.newborn_person_key = np.person_key
    left join persons as mp on sl.mother_person_key = mp.person_key

)

select * from final
