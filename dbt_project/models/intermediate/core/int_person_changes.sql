{#- indexes: the key, unique (delete+insert finds the replaced rows through it); the persons
    changed since a build are read by last_loaded_at (change_scope_persons) -#}
{{
    config(
        materialized='incremental',
        unique_key='person_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[{'columns': ['person_key'], 'unique': true}, {'columns': ['last_loaded_at']}],
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
    The raw versions come from stg_platform__record_versions (one row per version and person
    reference; only staging reads the raw tables), the entities from the contract
    (platform_person_entities(), macros/platform_entities.sql).
    Incremental runs read only raw rows loaded since the latest loaded_at seen (less
    incremental_change_margin_hours: a load that commits late still has its start time); the
    filters on loaded_at, entity and record_id reach each raw table's indexes through the view.
-#}
{%- set person_entities = platform_person_entities() -%}

-- "not materialized": read more than once, yet inlined so each read's filters reach the raw
-- tables' indexes (a materialized CTE would read every raw version)
with record_versions as not materialized (

    select * from {{ ref('stg_platform__record_versions') }}

),

ehr_map as (

    select * from {{ ref('int_person_ehr_map') }}

),

{% if is_incremental() %}
    changed_records as (

        select
            entity,
            record_id,
            max(loaded_at) as loaded_at
        from record_versions
        -- EHRs and the records that name persons (not org units)
        where
            person_reference is not null
            and loaded_at > {{ loaded_since_last_run('last_loaded_at') }}
        group by entity, record_id

    ),

    -- the persons named by any version of a changed record (an EHR names itself)
    touched_ehrs as (
        {% for entity in person_entities + ['residents'] %}
            select
                c.loaded_at,
                v.ehr_record_id
            from changed_records as c
            inner join record_versions as v
                on c.record_id = v.record_id
            where
                c.entity = '{{ entity }}'
                and v.entity = '{{ entity }}'
                -- an index scan of the raw table per changed record, not a hash join over
                -- all of it (through the view's union the planner has no statistics on
                -- record_id, and would guess that each record has hundreds of versions)
                and v.record_id = any(array(
                    select k.record_id
                    from changed_records as k
                    where k.entity = '{{ entity }}'
                ))
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ),
{% else %}
    -- a full build: every record has changed. Each version with the latest load of its
    -- record's versions that name persons (EHRs and the records that name persons, not org
    -- units), one pass per entity instead of a join of all versions with their records
    touched_ehrs as (
        select
            loaded_at,
            ehr_record_id
        from (
            {% for entity in person_entities + ['residents'] %}
                select
                    max(v.loaded_at) filter (where v.person_reference is not null)
                        over (partition by v.record_id)
                    as loaded_at,
                    v.ehr_record_id
                from record_versions as v
                where v.entity = '{{ entity }}'
                {% if not loop.last %}union all{% endif %}
            {%- endfor %}
        ) as versions
        where loaded_at is not null
    ),
{% endif %}

-- every version's ID number: an EHR whose ID number was corrected (or that was deleted) also
-- changes the person it belonged to before
version_ehr_keys as (

    select distinct
        v.ehr_record_id,
        v.person_key
    from record_versions as v
    where
        v.entity = 'residents'
        {% if is_incremental() %}
            and v.ehr_record_id = any(array(select t.ehr_record_id from touched_ehrs as t))
        {% else %}
            and v.ehr_record_id in (select t.ehr_record_id from touched_ehrs as t)
        {% endif %}

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
