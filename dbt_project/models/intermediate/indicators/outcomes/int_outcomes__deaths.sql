{{ config(materialized='table') }}

{#-
    One row per deceased person from the death registrations (死亡登记, stg_platform__deaths):
    the registration must not be dated after the data cut-off or before the person's birth
    (int_service_records.is_excluded_date); a person with several registrations (duplicate EHR
    copies) counts once, with the earliest registration. EHRs closed with reason 死亡 but
    without a death registration are not counted (no cause of death, not in the mortality
    register).
    Attribution (spec §6): the deceased person's attributed facility; a death registered under
    a newborn's record id that has no EHR is attributed to the mother's facility through the
    newborn visit carrying that record id (its birth date is taken from the visit). Deaths with
    no attributable facility keep facility_code null and count nowhere at facility level.
    Classification:
    - age_at_death_years: completed years between birth and death (null when birth unknown);
      is_infant_death age < 1, is_under5_death age < 5 (spec OUT_IMR / OUT_U5MR);
    - is_pregnancy_related (spec OUT_MMR: "during pregnancy or within 42 days after
      delivery"): the registration's pregnancy_related flag, or death on/after one of the
      person's deliveries and within 42 days of it, or pregnant on the eve of death: a
      pregnancy registered before the death day, not closed before it, with no delivery of hers
      (linked to it, or dated on/after its registration) before the death day. A pregnancy
      ends at its delivery, not at its record's close date (the platform closes delivered
      pregnancies weeks later); reference choice O2 / R4;
    - is_external_cause: 3-character ICD-10 category (macro icd10_category) within an
      'exclude' range of icd10_cause_ranges for OUT_MMR (V01-Y98); is_maternal_death =
      pregnancy related and not external (a null cause is not external);
    - is_ncd_cause: category within an 'include' range for OUT_NCD_PREMATURE; ncd_band_start_age
      = 30, 35, ... 65 for an age at death of 30-69 (null otherwise).
-#}
{%- set maternal_days_after_delivery = var('maternal_death_days_after_delivery') -%}
{%- set ncd_min_age = var('ncd_premature_min_age') -%}
{%- set ncd_max_age = var('ncd_premature_max_age') -%}
{%- set ncd_band_years = var('ncd_premature_band_years') -%}

with deaths as (

    select * from {{ ref('stg_platform__deaths') }}

),

-- the three entities read below: one scan of the records, not a copy of all of them
service_records as (

    select * from {{ ref('int_service_records') }}
    where entity in ('deaths', 'newborn_visits', 'pregnancies')

),

persons as (

    select * from {{ ref('int_persons') }}

),

newborn_visits as (

    select * from {{ ref('stg_platform__newborn_visits') }}

),

deliveries as (

    select * from {{ ref('int_maternal__deliveries') }}

),

pregnancies as (

    select * from {{ ref('stg_platform__pregnancies') }}

),

cause_ranges as (

    select * from {{ ref('icd10_cause_ranges') }}

),

newborns_without_ehr as (

    select
        nv.person_record_id,
        min(nv.birth_date) as birth_date,
        min(sr.mother_person_key) as mother_person_key
    from newborn_visits as nv
    inner join service_records as sr
        on
            sr.entity = 'newborn_visits'
            and nv.record_id = sr.record_id
    where sr.person_key is null and sr.mother_person_key is not null
    group by nv.person_record_id

),

registrations as (

    select
        d.record_id as death_record_id,
        d.person_record_id,
        sr.person_key,
        d.death_date,
        d.underlying_cause_icd10,
        {{ icd10_category('d.underlying_cause_icd10') }} as icd10_category,
        coalesce(d.pregnancy_related, false) as is_flagged_pregnancy_related,
        coalesce(sr.person_key, 'EHR:' || d.person_record_id) as deceased_key
    from deaths as d
    inner join service_records as sr
        on
            sr.entity = 'deaths'
            and d.record_id = sr.record_id
    where not sr.is_excluded_date

),

first_registration as (

    select
        *,
        row_number() over (
            partition by deceased_key order by death_date, death_record_id
        ) as registration_rank
    from registrations

),

attributed as (

    select
        r.death_record_id,
        r.deceased_key,
        r.person_key,
        r.death_date,
        r.underlying_cause_icd10,
        r.icd10_category,
        r.is_flagged_pregnancy_related,
        case
            when r.person_key is not null then p.birth_date
            else nb.birth_date
        end as birth_date,
        case
            when r.person_key is not null and not p.is_excluded_no_facility
                then p.attributed_facility_code
            when r.person_key is null and not mp.is_excluded_no_facility
                then mp.attributed_facility_code
        end as facility_code,
        case
            when r.person_key is not null then 'person'
            when nb.mother_person_key is not null then 'mother_of_newborn_without_ehr'
        end as attribution_method
    from first_registration as r
    left join persons as p on r.person_key = p.person_key
    left join newborns_without_ehr as nb
        on
            r.person_key is null
            and r.person_record_id = nb.person_record_id
    left join persons as mp on nb.mother_person_key = mp.person_key
    where r.registration_rank = 1

),

after_delivery as (

    select distinct a.death_record_id
    from attributed as a
    inner join deliveries as d
        on
            a.person_key = d.mother_person_key
            and a.death_date between d.delivery_date
            and d.delivery_date + {{ maternal_days_after_delivery }}

),

during_pregnancy as (

    select distinct a.death_record_id
    from attributed as a
    inner join service_records as sr
        on
            sr.entity = 'pregnancies'
            and a.person_key = sr.person_key
            and not sr.is_excluded
    inner join pregnancies as pg on sr.record_id = pg.record_id
    where
        pg.registered_on < a.death_date
        and (pg.closed_on is null or pg.closed_on >= a.death_date)
        and not exists (
            select 1
            from deliveries as d
            where
                d.mother_person_key = a.person_key
                and d.delivery_date < a.death_date
                and (
                    d.delivery_date >= pg.registered_on
                    or d.pregnancy_record_id = pg.record_id
                )
        )

),

cause_flags as (

    select
        a.death_record_id,
        coalesce(bool_or(cr.indicator_code = 'OUT_MMR' and cr.range_role = 'exclude'), false)
            as is_external_cause,
        coalesce(
            bool_or(cr.indicator_code = 'OUT_NCD_PREMATURE' and cr.range_role = 'include'),
            false
        ) as is_ncd_cause
    from attributed as a
    left join cause_ranges as cr
        on a.icd10_category between cr.icd10_from and cr.icd10_to
    group by a.death_record_id

),

aged as (

    select
        a.*,
        extract(year from age(a.death_date, a.birth_date))::integer as age_at_death_years,
        a.is_flagged_pregnancy_related
        or ad.death_record_id is not null
        or dp.death_record_id is not null as is_pregnancy_related,
        cf.is_external_cause,
        cf.is_ncd_cause
    from attributed as a
    left join after_delivery as ad on a.death_record_id = ad.death_record_id
    left join during_pregnancy as dp on a.death_record_id = dp.death_record_id
    left join cause_flags as cf on a.death_record_id = cf.death_record_id

),

final as (

    select
        death_record_id,
        deceased_key,
        person_key,
        facility_code,
        attribution_method,
        death_date,
        birth_date,
        age_at_death_years,
        underlying_cause_icd10,
        icd10_category,
        coalesce(age_at_death_years < 1, false) as is_infant_death,
        coalesce(age_at_death_years < 5, false) as is_under5_death,
        is_pregnancy_related,
        is_external_cause,
        is_pregnancy_related and not is_external_cause as is_maternal_death,
        is_ncd_cause,
        case
            when age_at_death_years between {{ ncd_min_age }} and {{ ncd_max_age }}
                then
                    {{ ncd_min_age }} + {{ ncd_band_years }}
                    * ((age_at_death_years - {{ ncd_min_age }}) / {{ ncd_band_years }})
        end as ncd_band_start_age
    from aged

)

select * from final
