{#- indexes: the key (unique: PostgreSQL rejects a second row of a record; the incremental
    delete finds the replaced rows through it); an incremental person-window model reads the
    records of the persons in its scope and the records dated between two cut-offs
    (change_scope_persons) -#}
{{ config(**change_scope_config('record_scope', indexes=[
    {'columns': ['entity', 'record_id'], 'unique': true},
    {'columns': ['person_key']}, {'columns': ['service_date']},
])) }}

{#-
    One row per service record of every person-level service entity (entity, record_id), with
    the merged person, the service date and the date exclusions of spec §5/§6:
    - service_after_cutoff: dated after the data cut-off (macro data_cutoff_date(): the var
      data_cutoff_date, default today);
    - service_before_birth: dated before the person's birth date (for a newborn visit without
      an EHR, the birth date on the visit);
    - service_after_death: dated after the person's death (not applied to death registrations).
    A record whose person_record_id matches no EHR is unknown_person_record (a newborn visit
    still counts through its mother's EHR). Indicator models join their staging model on
    (entity, record_id) to the counted records (macro counted_service_records: not
    is_excluded, with a person_key). is_dynamic_record marks the entities that
    count as dynamic EHR records for EHR_USAGE (spec §2).

    Incremental (macros/change_scope.sql, strategy record_scope): a row depends only on its
    record, the EHRs it names (int_person_ehr_map), their merged person's birth and death dates
    (int_persons), the org units and the cut-off. So a run recomputes the records loaded since
    the previous build, the records that name (or named, in the previous build) a person whose
    records changed or crossed the cut-off (change_scope_persons), and the records dated after
    the previous cut-off and on or before this one; a cut-off moved back or an org-unit load
    recomputes everything.
-#}
{#- from the contract (macros/platform_entities.sql): entity, service-date field, dynamic,
    facility, mother and birth-date fields -#}
{%- set service_entities = platform_service_entities() -%}
{%- set state = change_scope_state() -%}

-- "not materialized": read more than once, yet inlined so the planner sees table statistics
with ehr_map as not materialized (

    select * from {{ ref('int_person_ehr_map') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),
{% if state['mode'] == 'incremental' %}

    -- the persons whose records changed since the previous build or crossed the cut-off
    scope_persons as (
        {{ change_scope_persons(state, this) }}
    ),

    -- their EHRs as they are now
    scope_ehrs as (

        select ehr_map.ehr_record_id
        from ehr_map
        where ehr_map.person_key in (select p.person_key from scope_persons as p)

    ),

    -- the previous build's rows of those persons (the persons they named then) and of the
    -- records the cut-off crossed
    previous_in_scope as (

        select
            previous.entity,
            previous.record_id
        from {{ this }} as previous
        where
            previous.person_key in (select p.person_key from scope_persons as p)
            or previous.mother_person_key in (select p.person_key from scope_persons as p)
            or (
                previous.service_date > date '{{ state["data_cutoff_date"] }}'
                and previous.service_date <= date '{{ data_cutoff_date() }}'
            )

    ),
{% endif %}

services as (
    {% for e in service_entities %}
        select
            '{{ e.entity }}' as entity,
            record_id,
            person_record_id,
            {{ e.mother or 'null' }}::text as mother_person_record_id,
            {{ e.date }} as service_date,
            {{ e.facility or 'null' }}::text as facility_code,
            {{ e.birth or 'null::date' }} as record_birth_date,
            {{ 'true' if e.dynamic else 'false' }} as is_dynamic_record
        from {{ ref('stg_platform__' ~ e.entity) }}
        {%- if state['mode'] == 'incremental' %}
            where
                loaded_at > {{ change_scope_changed_since(state) }}
                or person_record_id in (select x.ehr_record_id from scope_ehrs as x)
                {%- if e.mother %}
                    or {{ e.mother }} in (select x.ehr_record_id from scope_ehrs as x)
                {%- endif %}
                or record_id in (
                    select p.record_id from previous_in_scope as p
                    where p.entity = '{{ e.entity }}'
                )
        {%- endif %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

joined as (

    select
        s.entity,
        s.record_id,
        s.person_record_id,
        m.person_key,
        mm.person_key as mother_person_key,
        s.service_date,
        s.facility_code,
        s.facility_code is null or o.org_unit_code is not null as is_known_facility,
        s.is_dynamic_record,
        coalesce(p.birth_date, s.record_birth_date) as person_birth_date,
        p.death_date as person_death_date,
        s.service_date > date '{{ data_cutoff_date() }}' as is_after_cutoff,
        coalesce(s.service_date < coalesce(p.birth_date, s.record_birth_date), false)
            as is_before_birth,
        s.entity <> 'deaths' and coalesce(s.service_date > p.death_date, false)
            as is_after_death,
        m.person_key is null and mm.person_key is null as is_unknown_person
    from services as s
    left join ehr_map as m on s.person_record_id = m.ehr_record_id
    left join ehr_map as mm on s.mother_person_record_id = mm.ehr_record_id
    left join persons as p on m.person_key = p.person_key
    left join org_units as o on s.facility_code = o.org_unit_code

),

final as (

    select
        entity,
        record_id,
        person_record_id,
        person_key,
        mother_person_key,
        service_date,
        facility_code,
        is_known_facility,
        is_dynamic_record,
        person_birth_date,
        person_death_date,
        is_after_cutoff,
        is_before_birth,
        is_after_death,
        is_unknown_person,
        is_after_cutoff or is_before_birth or is_after_death as is_excluded_date,
        case
            when is_after_cutoff then 'service_after_cutoff'
            when is_before_birth then 'service_before_birth'
            when is_after_death then 'service_after_death'
            when is_unknown_person then 'unknown_person_record'
        end as exclusion_reason,
        is_after_cutoff or is_before_birth or is_after_death or is_unknown_person as is_excluded,
        {{ change_scope_build_columns(built_at=true) }}
        /* record_scope_mode: {{ state['mode'] }} */
    from joined

)

select * from final
