{{ config(
    materialized='view',
    indexes=[],
    meta={'tests_scope': {'column': 'loaded_at', 'kind': 'loaded_after'}},
) }}

{#-
    Staging: every raw version of the platform records that change tracking reads
    (int_person_changes, macros/person_windows.sql), tombstones included: one row per version
    of an org unit, one per version of an EHR (residents) and one per version and person
    reference of every entity whose records concern persons (platform_person_entities(): the
    contract's fields naming a resident's EHR; newborn visits name the child and the mother).

    A view, not an incremental table like the other staging models: it only reshapes raw rows,
    and a filter on entity, record_id or loaded_at reaches each raw table's index (the
    planner pushes it into every branch of the union). The pipeline's incremental runs test
    only the versions loaded since the previous build (meta tests_scope, macros/
    scoped_tests.sql), through those indexes; a full build tests every row.

    Privacy: the ID number of an EHR version only feeds person_key, computed as the person_key
    macro does (keyring.person_key(): the key never leaves the warehouse).
-#}

{%- set references = [('org_units', none), ('residents', 'record_id')] -%}
{%- for entity in platform_person_entities() -%}
    {%- for field in platform_entity_keys()[entity].person_refs -%}
        {%- do references.append((entity, field)) -%}
    {%- endfor -%}
{%- endfor %}

with versions as (
    {% for entity, field in references %}
        select
            '{{ entity }}'::text as entity,
            record_id,
            version as record_version,
            loaded_at,
            {%- if field is none %}
                null::text as person_reference,
                null::text as ehr_record_id,
            {%- elif field == 'record_id' %}
                '{{ field }}'::text as person_reference,
                record_id as ehr_record_id,
            {%- else %}
                '{{ field }}'::text as person_reference,
                {{ payload_text(field) }} as ehr_record_id,
            {%- endif %}
            {%- if entity == 'residents' %}
                {{ person_key("payload ->> 'id_number'", 'record_id') }} as person_key
            {%- else %}
                null::text as person_key
            {%- endif %}
        from {{ source('platform', entity) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (

    select
        entity,
        record_id,
        record_version,
        loaded_at,
        person_reference,
        ehr_record_id,
        person_key
    from versions

)

select * from final
