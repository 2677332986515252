{{ config(materialized='table') }}

{#-
    Every exclusion and data-quality flag of spec §5/§6, one row per (entity, record_id, field,
    reason). exclusion_action says what the models do with it:
    - value_set_to_null: an implausible measurement (out of range, or SBP <= DBP) is treated as
      missing in the staging model (<m> null, <m>_raw kept); the visit still counts; so is a
      field of the wrong type, out of what it can hold or unstorable (stg_platform__field_issues,
      reasons wrong_type / out_of_range / unstorable_value);
    - record_excluded: a service dated after the data cut-off, before birth or after death, or
      attached to no known EHR (int_service_records.is_excluded);
    - flagged_kept: unknown facility code on a service, invalid / missing / inconsistent ID
      number (the record is kept and counted, flagged for correction);
    - attributed_to_township_facility: an EHR whose managing-facility code is unknown (the person
      falls back to the facility of their township);
    - person_excluded: a person with neither a known managing facility nor a known township;
    - merged: a duplicate EHR copy merged into its person (spec §6 duplicates).
    raw_value holds the offending measurement or code as text (never an ID number).
-#}
{#- each measurement with a plausibility range, per entity, from the contract
    (macros/platform_entities.sql) -#}
{%- set measures = platform_plausibility_checks() -%}

-- "not materialized": read more than once, yet inlined so the planner sees table statistics
with service_records as not materialized (

    select * from {{ ref('int_service_records') }}

),

residents as not materialized (

    select * from {{ ref('stg_platform__residents') }}

),

ehr_map as (

    select * from {{ ref('int_person_ehr_map') }}

),

persons as not materialized (

    select * from {{ ref('int_persons') }}

),

org_units as not materialized (

    select * from {{ ref('int_org_units') }}

),

report_submissions as (

    select * from {{ ref('stg_platform__report_submissions') }}

),

field_issues as (

    select * from {{ ref('stg_platform__field_issues') }}

),

value_exclusions as (
    {#- readings nulled as implausible (one scan per entity: the rows with a nulled reading,
        then a row per nulled field), then fields of the wrong type #}
    {% for m in measures %}
        select
            '{{ m.entity }}' as entity,
            s.record_id,
            x.field,
            x.raw_value,
            x.reason,
            'value_set_to_null' as exclusion_action
        from {{ ref('stg_platform__' ~ m.entity) }} as s
        cross join
            lateral (
                values
                {%- for field, measure in m.fields %}
                    (
                        '{{ field }}',
                        s.{{ field }}_raw::text,
                        case
                            when not {{ is_plausible('s.' ~ field ~ '_raw', measure) }}
                                then '{{ measure }}_out_of_range'
                            else 'sbp_not_above_dbp'
                        end,
                        s.{{ field }}_raw is not null and s.{{ field }} is null
                    ){% if not loop.last %},{% endif %}
                {%- endfor %}
            ) as x (field, raw_value, reason, is_nulled)
        where
            x.is_nulled
            and (
                {%- for field, measure in m.fields %}
                    (s.{{ field }}_raw is not null and s.{{ field }} is null)
                    {% if not loop.last %}or{% endif %}
                {%- endfor %}
            )
        union all
    {%- endfor %}
    select
        entity,
        record_id,
        field,
        raw_value,
        reason,
        'value_set_to_null' as exclusion_action
    from field_issues
),

-- readings and fields treated as missing, with the person and date of their record: each
-- looked up by its key (a lateral subquery with `limit 1`, which the planner does not flatten
-- into a join: the planner expects ten to twenty times the exclusions there are, and hashed
-- the whole of int_service_records for a few thousand of them). The keys are unique: no
-- order is needed for the one row.
value_exclusions_dated as (

    select
        x.entity,
        x.record_id,
        coalesce(s.person_key, r.person_key) as person_key,
        coalesce(s.service_date, r.ehr_created_on) as event_date,
        x.field,
        x.raw_value,
        x.reason,
        x.exclusion_action
    from value_exclusions as x
    left join lateral (
        select
            service.person_key,
            service.service_date
        from service_records as service
        where service.entity = x.entity and service.record_id = x.record_id
        limit 1  -- noqa: AM09
    ) as s on true
    left join lateral (
        select
            ehr.person_key,
            ehr.ehr_created_on
        from residents as ehr
        where x.entity = 'residents' and ehr.record_id = x.record_id
        limit 1  -- noqa: AM09
    ) as r on true

),

-- excluded services and services with an unknown facility code: one pass over service_records
service_exclusions as (

    select
        s.entity,
        s.record_id,
        s.person_key,
        s.service_date as event_date,
        x.field,
        x.raw_value,
        x.reason,
        x.exclusion_action
    from service_records as s
    cross join
        lateral (
            values
            (null::text, null::text, s.exclusion_reason, 'record_excluded', s.is_excluded),
            (
                'facility_code',
                s.facility_code,
                'unknown_facility_code',
                'flagged_kept',
                not s.is_known_facility
            )
        ) as x (field, raw_value, reason, exclusion_action, is_flagged)
    where x.is_flagged and (s.is_excluded or not s.is_known_facility)

),

unknown_report_facilities as (

    select
        'report_submissions' as entity,
        r.record_id,
        null::text as person_key,
        r.report_month as event_date,
        'facility_code' as field,
        r.facility_code as raw_value,
        'unknown_facility_code' as reason,
        'flagged_kept' as exclusion_action
    from report_submissions as r
    left join org_units as o on r.facility_code = o.org_unit_code
    where o.org_unit_code is null

),

resident_flags as (

    select
        r.record_id,
        r.person_key,
        r.ehr_created_on,
        r.managing_facility_code,
        r.id_missing,
        r.id_check_digit_valid,
        r.id_consistent_with_birth_sex,
        o.org_unit_code is not null as is_known_managing_facility,
        p.attributed_facility_code,
        m.is_primary_copy
    from residents as r
    inner join ehr_map as m on r.record_id = m.ehr_record_id
    inner join persons as p on r.person_key = p.person_key
    left join org_units as o
        on
            r.managing_facility_code = o.org_unit_code
            and o.org_level in ('facility', 'station')

),

-- one pass over the EHRs: a row per flag an EHR raises
resident_exclusions as (

    select
        'residents' as entity,
        f.record_id,
        f.person_key,
        f.ehr_created_on as event_date,
        x.field,
        x.raw_value,
        x.reason,
        x.exclusion_action
    from resident_flags as f
    cross join
        lateral (
            values
            ('id_number', null::text, 'id_missing', 'flagged_kept', f.id_missing),
            (
                'id_number',
                null::text,
                'id_check_digit_invalid',
                'flagged_kept',
                not f.id_check_digit_valid
            ),
            (
                'id_number',
                null::text,
                'id_inconsistent_with_birth_sex',
                'flagged_kept',
                not f.id_consistent_with_birth_sex
            ),
            (
                'managing_facility_code',
                f.managing_facility_code,
                'unknown_managing_facility',
                case
                    when f.attributed_facility_code is not null
                        then 'attributed_to_township_facility'
                    else 'flagged_kept'
                end,
                not f.is_known_managing_facility
            ),
            (null::text, null::text, 'duplicate_ehr_merged', 'merged', not f.is_primary_copy)
        ) as x (field, raw_value, reason, exclusion_action, is_flagged)
    where
        x.is_flagged
        and (
            f.id_missing
            or not f.id_check_digit_valid
            or not f.id_consistent_with_birth_sex
            or not f.is_known_managing_facility
            or not f.is_primary_copy
        )

),

person_exclusions as (

    select
        'residents' as entity,
        primary_ehr_record_id as record_id,
        person_key,
        ehr_created_on as event_date,
        null::text as field,
        managing_facility_code as raw_value,
        'no_attributable_facility' as reason,
        'person_excluded' as exclusion_action
    from persons
    where is_excluded_no_facility

),

unioned as (

    select * from value_exclusions_dated
    union all
    select * from service_exclusions
    union all
    select * from unknown_report_facilities
    union all
    select * from resident_exclusions
    union all
    select * from person_exclusions

),

final as (

    select
        md5(
            entity || '|' || record_id || '|' || coalesce(field, '') || '|' || reason
        ) as exclusion_id,
        entity,
        record_id,
        person_key,
        event_date,
        field,
        raw_value,
        reason,
        exclusion_action
    from unioned

)

select * from final
