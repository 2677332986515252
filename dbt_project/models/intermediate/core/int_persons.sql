{#- indexes: the keys, unique (person_sk's hash collision fails the insert that makes it,
    whichever person it collides with; the strategy's delete finds persons by person_key) -#}
{{ config(**change_scope_config('person_scope', indexes=[
    {'columns': ['person_key'], 'unique': true}, {'columns': ['person_sk'], 'unique': true},
])) }}

{#-
    One row per person (person_key), merging duplicate EHRs (same ID number) per spec §6:
    - ehr_created_on: earliest creation date of all copies;
    - managing_facility_code: from the most recently updated copy (int_person_ehr_map.copy_rank
      = 1); township_code, residency_type and sex_code from the most recently updated copy
      that has one (a valid sex code);
    - birth_date / sex_code: the fields (spec §6: they win over the ID number); the ID-encoded
      birth date only when no copy has the field (done in stg_platform__residents);
    - death_date: earliest of the death registrations of any copy (not dated after the data
      cut-off nor before birth: spec §6 impossible dates) and any EHR closed with reason 死亡;
    - state (spec §6, merged duplicates): open, or closed on ehr_closed_on with close_reason, as
      the most recently updated copy says (copy_rank = 1), whatever the older copies say;
      moved_out_on is that copy's close date when it was closed as moved out (迁出);
    - attribution (spec §6): the managing facility when it is a known facility (a known station
      rolls up to its facility); an unknown code falls back to the primary-care facility of the
      person's township; neither known -> attributed_facility_code null and
      is_excluded_no_facility (listed in int_quality__exclusions).

    Incremental (macros/change_scope.sql, strategy person_scope): a person's row depends only
    on their EHR copies, the death registrations naming those EHRs, the org units and the
    cut-off, so a run recomputes the persons whose records changed since the previous build
    and the persons with a death registration dated after the previous cut-off and on or
    before this one (person_scope_persons); a person left with no EHR leaves the table.
-#}
{%- set state = change_scope_state() -%}

{% if state['mode'] == 'incremental' %}
    with scope as (

        {{ person_scope_persons(state) }}

    ),

    residents as (

        select * from {{ ref('stg_platform__residents') }}
        where person_key in (select scope.person_key from scope)

    ),

    ehr_map as (

        select * from {{ ref('int_person_ehr_map') }}
        where person_key in (select scope.person_key from scope)

    ),
{% else %}
    with residents as (

        select * from {{ ref('stg_platform__residents') }}

    ),

    ehr_map as (

        select * from {{ ref('int_person_ehr_map') }}

    ),
{% endif %}

deaths as (

    select * from {{ ref('stg_platform__deaths') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),

copies as (

    select
        r.*,
        m.copy_rank
    from residents as r
    inner join ehr_map as m on r.record_id = m.ehr_record_id

),

merged as (

    -- a field several copies may hold: the first copy in the field's order (the header above),
    -- by an ordered aggregate over the person's few copies
    select
        person_key,
        count(*) as ehr_count,
        min(ehr_created_on) as ehr_created_on,
        max(record_id) filter (where copy_rank = 1) as primary_ehr_record_id,
        max(managing_facility_code) filter (where copy_rank = 1) as managing_facility_code,
        (array_agg(township_code order by township_code is null, copy_rank))[1]
            as township_code,
        (array_agg(residency_type order by residency_type is null, copy_rank))[1]
            as residency_type,
        (array_agg(
            birth_date order by birth_date is null, birth_date_from_id, copy_rank
        ))[1] as birth_date,
        (array_agg(
            sex_code order by coalesce(sex_code not in ('1', '2'), true), copy_rank
        ))[1] as sex_code,
        max(ehr_closed_on) filter (where copy_rank = 1) as ehr_closed_on,
        max(close_reason) filter (where copy_rank = 1 and ehr_closed_on is not null)
            as close_reason,
        min(ehr_closed_on) filter (where close_reason = '死亡') as ehr_closed_dead_on,
        bool_or(id_missing) as id_missing,
        bool_and(id_check_digit_valid) as id_check_digit_valid,
        bool_and(id_consistent_with_birth_sex) as id_consistent_with_birth_sex
    from copies
    group by person_key

),

death_registrations as (

    -- spec §6 impossible dates: a registration dated after the data cut-off or before the
    -- person's birth is excluded (listed by int_service_records / int_quality__exclusions)
    select
        m.person_key,
        min(d.death_date) as registered_death_date
    from deaths as d
    inner join ehr_map as m on d.person_record_id = m.ehr_record_id
    inner join merged as mg on m.person_key = mg.person_key
    where
        d.death_date <= '{{ data_cutoff_date() }}'::date
        and (mg.birth_date is null or d.death_date >= mg.birth_date)
    group by m.person_key

),

attributed as (

    select
        mg.*,
        dr.registered_death_date,
        mf.org_level as managing_org_level,
        mf.facility_code as managing_unit_facility_code,
        mf.township_code as managing_unit_township_code,
        tw.facility_code as township_facility_code,
        tw.org_unit_code is not null as is_known_township
    from merged as mg
    left join death_registrations as dr on mg.person_key = dr.person_key
    left join org_units as mf
        on
            mg.managing_facility_code = mf.org_unit_code
            and mf.org_level in ('facility', 'station')
    left join org_units as tw
        on
            mg.township_code = tw.org_unit_code
            and tw.org_level = 'township'

),

final as (

    select
        a.person_key,
        {{ person_sk('a.person_key') }} as person_sk,
        a.primary_ehr_record_id,
        a.ehr_count,
        a.ehr_count > 1 as is_duplicated,
        a.ehr_created_on,
        a.birth_date,
        a.sex_code,
        a.residency_type,
        a.township_code,
        a.is_known_township,
        a.managing_facility_code,
        a.managing_org_level is not null as is_known_managing_facility,
        least(a.registered_death_date, a.ehr_closed_dead_on) as death_date,
        a.registered_death_date,
        a.ehr_closed_on,
        a.close_reason,
        case when a.close_reason = '迁出' then a.ehr_closed_on end as moved_out_on,
        a.ehr_closed_on is null as has_open_ehr,
        a.id_missing,
        a.id_check_digit_valid,
        a.id_consistent_with_birth_sex,
        a.id_missing
        or not coalesce(a.id_check_digit_valid, false)
        or not coalesce(a.id_consistent_with_birth_sex, false) as has_id_problem,
        coalesce(a.managing_unit_facility_code, a.township_facility_code)
            as attributed_facility_code,
        case
            when a.managing_unit_facility_code is not null then a.managing_unit_township_code
            when a.township_facility_code is not null then a.township_code
        end as attributed_township_code,
        case
            when a.managing_org_level = 'facility' then 'managing_facility'
            when a.managing_org_level = 'station' then 'managing_station_parent'
            when a.township_facility_code is not null then 'township_fallback'
        end as attribution_method,
        coalesce(a.managing_unit_facility_code, a.township_facility_code) is null
            as is_excluded_no_facility,
        {{ change_scope_build_columns(built_at=true) }}
        /* person_scope_mode: {{ state['mode'] }} */
    from attributed as a

)

select * from final
