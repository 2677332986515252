{{ config(materialized='table') }}

{#-
    One row per counted delivery (分娩记录; int_service_records not excluded) with its mother,
    attribution, live births, linked pregnancy and the maternal-care facts of spec §2 Maternal.
    Deliveries with 0 live births are kept (is_live_birth_delivery false) for the outcome
    indicators (maternal deaths within 42 days after any delivery); the maternal cohort keeps
    live_births >= 1.

    Live births: the recorded live_births; when missing, 1 for outcome 活产, else 0.

    Linking (documented choices):
    - delivery -> pregnancy: the delivery's pregnancy_record_id when it resolves to a counted
      pregnancy; else the mother's latest counted pregnancy registered on or before the
      delivery date and after her previous delivery, that no other delivery references
      explicitly (pregnancy_link_method explicit / mother_fallback / null = none).
    - pregnancy -> prenatal exams: exams whose pregnancy_record_id is the linked pregnancy, plus
      the mother's exams without a resolvable pregnancy_record_id dated after her previous
      delivery; only exams dated on or before the delivery date count. Exams are counted as
      distinct exam DATES (examination visits): two records on the same day count once, even
      from the same EHR copy with different record ids, exam_number or readings — spec §2
      "≥ 5 prenatal examinations" counts examination visits (产前检查次数; the 5 scheduled
      visits spread over the pregnancy), and a same-day second record is a double entry (spec
      silent; choice agreed with the e2e reference, M3).
    - delivery -> postpartum visits / 42-day checks: records whose delivery_record_id is this
      delivery; records without a resolvable delivery_record_id belong to the mother's
      delivery they follow (dated on or after this delivery and before her next delivery).
      Records dated before the delivery never count.
    Rules:
    - gestational age at an event = completed weeks from LMP (macro completed_weeks) when LMP is
      known and not after the event, else the recorded gestational week (registration: the
      plausibility-cleaned gestational_week_at_registration; exam: the exam's gestational_week);
    - is_early_registration: a linked pregnancy whose registration AND first prenatal exam are
      both before 13 completed weeks (早孕建册: 孕13周前建册并进行第一次产前检查);
    - has_postpartum_visit_28d: a linked postpartum visit from the reference date to reference
      date + 28 days ("within 28 days after discharge": a visit before the discharge does not
      count), reference = discharge date, or the delivery date when discharge is missing (or earlier
      than the delivery); day 28 counts, day 29 does not;
    - has_postpartum_42d_check: any linked 42-day check (on or after the delivery);
    - is_systematically_managed: early registration and >= 5 prenatal exams and the 28-day
      postpartum visit and the 42-day check.
-#}
{%- set early_registration_weeks = var('early_registration_weeks') -%}
{%- set postpartum_visit_days = var('postpartum_visit_days') -%}
{%- set min_prenatal_exams = var('min_prenatal_exams') -%}

with deliveries as (

    select * from {{ ref('stg_platform__deliveries') }}

),

pregnancies as (

    select * from {{ ref('stg_platform__pregnancies') }}

),

prenatal_exams as (

    select * from {{ ref('stg_platform__prenatal_exams') }}

),

postpartum_visits as (

    select * from {{ ref('stg_platform__postpartum_visits') }}

),

postpartum_checks as (

    select * from {{ ref('stg_platform__postpartum_42d_checks') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

counted_records as (

    {{ counted_service_records([
        'deliveries', 'pregnancies', 'prenatal_exams', 'postpartum_visits',
        'postpartum_42d_checks',
    ]) }}

),

delivery_base as (

    select
        d.record_id as delivery_record_id,
        cr.person_key as mother_person_key,
        d.pregnancy_record_id as recorded_pregnancy_record_id,
        d.delivery_date,
        d.discharge_date,
        d.outcome,
        coalesce(d.live_births, case when d.outcome = '活产' then 1 else 0 end) as live_births,
        case
            when d.discharge_date >= d.delivery_date then d.discharge_date
            else d.delivery_date
        end as postpartum_reference_date
    from deliveries as d
    inner join counted_records as cr
        on
            cr.entity = 'deliveries'
            and d.record_id = cr.record_id

),

delivery_sequence as (

    select
        *,
        lag(delivery_date) over (
            partition by mother_person_key order by delivery_date, delivery_record_id
        ) as previous_delivery_date,
        lead(delivery_date) over (
            partition by mother_person_key order by delivery_date, delivery_record_id
        ) as next_delivery_date
    from delivery_base

),

counted_pregnancies as (

    select
        p.record_id as pregnancy_record_id,
        cr.person_key,
        p.lmp,
        p.registered_on,
        p.gestational_week_at_registration
    from pregnancies as p
    inner join counted_records as cr
        on
            cr.entity = 'pregnancies'
            and p.record_id = cr.record_id

),

explicit_pregnancy_links as (

    select
        ds.delivery_record_id,
        cp.pregnancy_record_id
    from delivery_sequence as ds
    inner join counted_pregnancies as cp
        on ds.recorded_pregnancy_record_id = cp.pregnancy_record_id

),

fallback_pregnancy_candidates as (

    select
        ds.delivery_record_id,
        cp.pregnancy_record_id,
        row_number() over (
            partition by ds.delivery_record_id
            order by cp.registered_on desc, cp.pregnancy_record_id desc
        ) as candidate_rank
    from delivery_sequence as ds
    inner join counted_pregnancies as cp
        on
            ds.mother_person_key = cp.person_key
            and ds.delivery_date >= cp.registered_on
            and (ds.previous_delivery_date is null or ds.previous_delivery_date < cp.registered_on)
    left join explicit_pregnancy_links as linked_delivery
        on ds.delivery_record_id = linked_delivery.delivery_record_id
    left join explicit_pregnancy_links as linked_pregnancy
        on cp.pregnancy_record_id = linked_pregnancy.pregnancy_record_id
    where
        linked_delivery.delivery_record_id is null
        and linked_pregnancy.pregnancy_record_id is null

),

pregnancy_links as (

    select
        delivery_record_id,
        pregnancy_record_id,
        'explicit' as pregnancy_link_method
    from explicit_pregnancy_links

    union all

    select
        delivery_record_id,
        pregnancy_record_id,
        'mother_fallback' as pregnancy_link_method
    from fallback_pregnancy_candidates
    where candidate_rank = 1

),

counted_prenatal_exams as (

    select
        e.record_id,
        cr.person_key,
        cp.pregnancy_record_id as resolved_pregnancy_record_id,
        e.exam_date,
        e.gestational_week
    from prenatal_exams as e
    inner join counted_records as cr
        on
            cr.entity = 'prenatal_exams'
            and e.record_id = cr.record_id
    left join counted_pregnancies as cp on e.pregnancy_record_id = cp.pregnancy_record_id

),

delivery_prenatal_exams as (

    -- exams that reference the linked pregnancy
    select
        ds.delivery_record_id,
        e.exam_date,
        e.gestational_week
    from delivery_sequence as ds
    inner join pregnancy_links as pl on ds.delivery_record_id = pl.delivery_record_id
    inner join counted_prenatal_exams as e
        on
            pl.pregnancy_record_id = e.resolved_pregnancy_record_id
            and ds.delivery_date >= e.exam_date

    union all

    -- the mother's exams without a resolvable pregnancy, after her previous delivery
    select
        ds.delivery_record_id,
        e.exam_date,
        e.gestational_week
    from delivery_sequence as ds
    inner join pregnancy_links as pl on ds.delivery_record_id = pl.delivery_record_id
    inner join counted_prenatal_exams as e
        on
            ds.mother_person_key = e.person_key
            and e.resolved_pregnancy_record_id is null
            and ds.delivery_date >= e.exam_date
            and (ds.previous_delivery_date is null or ds.previous_delivery_date < e.exam_date)

),

prenatal_summary as (

    select
        delivery_record_id,
        count(distinct exam_date) as prenatal_exam_count,
        min(exam_date) as first_prenatal_exam_date
    from delivery_prenatal_exams
    group by delivery_record_id

),

first_exam_week as (

    select
        dpe.delivery_record_id,
        min(dpe.gestational_week) as first_exam_recorded_week
    from delivery_prenatal_exams as dpe
    inner join prenatal_summary as ps
        on
            dpe.delivery_record_id = ps.delivery_record_id
            and dpe.exam_date = ps.first_prenatal_exam_date
    group by dpe.delivery_record_id

),

postpartum_records as (

    select
        'visit' as record_kind,
        v.record_id,
        cr.person_key,
        cd.delivery_record_id as resolved_delivery_record_id,
        v.visit_date as record_date
    from postpartum_visits as v
    inner join counted_records as cr
        on
            cr.entity = 'postpartum_visits'
            and v.record_id = cr.record_id
    left join delivery_base as cd on v.delivery_record_id = cd.delivery_record_id

    union all

    select
        'check_42d' as record_kind,
        c.record_id,
        cr.person_key,
        cd.delivery_record_id as resolved_delivery_record_id,
        c.check_date as record_date
    from postpartum_checks as c
    inner join counted_records as cr
        on
            cr.entity = 'postpartum_42d_checks'
            and c.record_id = cr.record_id
    left join delivery_base as cd on c.delivery_record_id = cd.delivery_record_id

),

delivery_postpartum_records as (

    -- records that reference the delivery
    select
        ds.delivery_record_id,
        ds.postpartum_reference_date,
        pr.record_kind,
        pr.record_date
    from delivery_sequence as ds
    inner join postpartum_records as pr
        on
            ds.delivery_record_id = pr.resolved_delivery_record_id
            and ds.delivery_date <= pr.record_date

    union all

    -- the mother's records without a resolvable delivery, between this and her next delivery
    select
        ds.delivery_record_id,
        ds.postpartum_reference_date,
        pr.record_kind,
        pr.record_date
    from delivery_sequence as ds
    inner join postpartum_records as pr
        on
            ds.mother_person_key = pr.person_key
            and pr.resolved_delivery_record_id is null
            and ds.delivery_date <= pr.record_date
            and (ds.next_delivery_date is null or ds.next_delivery_date > pr.record_date)

),

delivery_postpartum as (

    select
        delivery_record_id,
        min(record_date) filter (where record_kind = 'visit') as first_postpartum_visit_date,
        bool_or(
            record_kind = 'visit'
            and record_date between postpartum_reference_date
            and postpartum_reference_date + {{ postpartum_visit_days }}
        ) as has_postpartum_visit_28d,
        bool_or(record_kind = 'check_42d') as has_postpartum_42d_check
    from delivery_postpartum_records
    group by delivery_record_id

),

assembled as (

    select
        ds.delivery_record_id,
        ds.mother_person_key,
        p.attributed_facility_code as facility_code,
        coalesce(p.is_excluded_no_facility, true) as is_excluded_no_facility,
        ds.delivery_date,
        ds.discharge_date,
        ds.postpartum_reference_date,
        ds.outcome,
        ds.live_births,
        ds.live_births >= 1 as is_live_birth_delivery,
        ds.previous_delivery_date,
        ds.next_delivery_date,
        pl.pregnancy_record_id,
        pl.pregnancy_link_method,
        cp.lmp,
        cp.registered_on,
        case
            when cp.lmp <= cp.registered_on
                then {{ completed_weeks('cp.lmp', 'cp.registered_on') }}
            else cp.gestational_week_at_registration
        end as gestational_weeks_at_registration,
        ps.first_prenatal_exam_date,
        case
            when cp.lmp <= ps.first_prenatal_exam_date
                then {{ completed_weeks('cp.lmp', 'ps.first_prenatal_exam_date') }}
            else few.first_exam_recorded_week
        end as gestational_weeks_at_first_exam,
        coalesce(ps.prenatal_exam_count, 0) as prenatal_exam_count,
        dp.first_postpartum_visit_date,
        coalesce(dp.has_postpartum_visit_28d, false) as has_postpartum_visit_28d,
        coalesce(dp.has_postpartum_42d_check, false) as has_postpartum_42d_check
    from delivery_sequence as ds
    left join persons as p on ds.mother_person_key = p.person_key
    left join pregnancy_links as pl on ds.delivery_record_id = pl.delivery_record_id
    left join counted_pregnancies as cp on pl.pregnancy_record_id = cp.pregnancy_record_id
    left join prenatal_summary as ps on ds.delivery_record_id = ps.delivery_record_id
    left join first_exam_week as few on ds.delivery_record_id = few.delivery_record_id
    left join delivery_postpartum as dp on ds.delivery_record_id = dp.delivery_record_id

),

early_registered as (

    select
        *,
        coalesce(
            pregnancy_record_id is not null
            and gestational_weeks_at_registration < {{ early_registration_weeks }}
            and gestational_weeks_at_first_exam < {{ early_registration_weeks }},
            false
        ) as is_early_registration
    from assembled

),

final as (

    select
        *,
        is_early_registration
        and prenatal_exam_count >= {{ min_prenatal_exams }}
        and has_postpartum_visit_28d
        and has_postpartum_42d_check as is_systematically_managed
    from early_registered

)

select * from final
