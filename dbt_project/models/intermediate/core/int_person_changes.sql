{{
    config(
        materialized='incremental',
        unique_key='person_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        meta={'tests_scope': {'column': 'last_loaded_at', 'kind': 'loaded_after'}},
    )
}}

{#-
    When each merged person's data last changed: one row per person_key with the latest
    loaded_at of any raw version of any record that concerns them. The incremental person x
    window tables (macros/person_windows.sql) recompute every window of the persons changed
    since their own previous build, so a late correction or deletion of an old record changes
    old windows exactly as a full refresh would.
    A record concerns the persons named by ANY of its versions (a correction that moves a
    follow-up to another EHR changes both persons; a tombstone carries no payload of interest,
    the earlier versions name the person): person_record_id (mother_person_record_id too for
    newborn visits), mapped to the merged person by int_person_ehr_map, or, for EHRs no longer
    in it, by the person key of the ID number in every version of that EHR (a corrected ID
    number or a deleted copy changes the person it belonged to).
    Incremental runs read only raw rows loaded since the latest loaded_at seen (less
    incremental_change_margin_hours: a load that commits late still has its start time).
-#}
{%- set person_entities = [
    'family_doctor_contracts', 'htn_registry', 't2d_registry', 'smd_registry',
    'htn_followups', 't2d_followups', 'smd_followups', 'health_exams', 'pregnancies',
    'prenatal_exams', 'deliveries', 'postpartum_visits', 'postpartum_42d_checks',
    'newborn_visits', 'child_health_checks', 'child_tcm_guidance', 'vaccinations', 'deaths',
] -%}

with ehr_map as (

    select * from {{ ref('int_person_ehr_map') }}

),

changed_records as (
    {% for entity in person_entities + ['residents'] %}
        select
            '{{ entity }}' as entity,
            record_id,
            max(loaded_at) as loaded_at
        from {{ source('platform', entity) }}
        {% if is_incremental() %}
            where loaded_at > {{ loaded_since_last_run('last_loaded_at') }}
        {% endif %}
        group by record_id
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

touched_ehrs as (
    {% for entity in person_entities %}
        select
            c.loaded_at,
            nullif(btrim(v.payload ->> 'person_record_id'), '') as ehr_record_id
        from changed_records as c
        inner join {{ source('platform', entity) }} as v
            on c.entity = '{{ entity }}' and c.record_id = v.record_id
        union all
        {% if entity == 'newborn_visits' %}
            select
                c.loaded_at,
                nullif(btrim(v.payload ->> 'mother_person_record_id'), '') as ehr_record_id
            from changed_records as c
            inner join {{ source('platform', entity) }} as v
                on c.entity = '{{ entity }}' and c.record_id = v.record_id
            union all
        {% endif %}
    {% endfor %}
    select
        loaded_at,
        record_id as ehr_record_id
    from changed_records
    where entity = 'residents'
),

-- every version's ID number: an EHR whose ID number was corrected (or that was deleted) also
-- changes the person it belonged to before
version_ehr_keys as (

    select distinct
        v.record_id as ehr_record_id,
        {{ person_key("v.payload ->> 'id_number'", 'v.record_id') }} as person_key
    from {{ source('platform', 'residents') }} as v
    where
        v.record_id in (select t.ehr_record_id from touched_ehrs as t)

),

ehr_keys as (

    select
        ehr_record_id,
        person_key
    from ehr_map
    union all
    select
        ehr_record_id,
        person_key
    from version_ehr_keys

),

final as (

    select
        k.person_key,
        max(t.loaded_at) as last_loaded_at
    from touched_ehrs as t
    inner join ehr_keys as k on t.ehr_record_id = k.ehr_record_id
    group by k.person_key

)

select * from final
