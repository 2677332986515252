{#-
    Lists of platform entities, derived from the platform contract (platform_contract() and
    platform_entity_keys(), macros/generated, generated from phwarehouse.contract), in contract
    order: the models iterate over these rather than naming entities by hand, so an entity
    added to the contract reaches every list it belongs to.
-#}

{% macro platform_person_entities() -%}
    {#- the entities whose records concern persons: those with a field naming a resident's
        EHR (person_record_id; newborn visits also mother_person_record_id) -#}
    {%- set entities = [] -%}
    {%- for entity, keys in platform_entity_keys().items() if keys.person_refs -%}
        {%- do entities.append(entity) -%}
    {%- endfor -%}
    {{ return(entities) }}
{%- endmacro %}

{% macro platform_service_entities() -%}
    {#- the service records of persons: each entity with a person reference and an event date,
        as a dict of entity, date (its service-date field), dynamic (a dynamic EHR record),
        facility (its facility_code field or none), mother (mother_person_record_id or none),
        birth (the birth_date field of the person served on the record, or none) -#}
    {%- set services = [] -%}
    {%- for entity, keys in platform_entity_keys().items()
        if keys.person_refs and keys.event_date -%}
        {%- set fields = platform_contract()[entity] | map(attribute=0) | list -%}
        {%- do services.append({
            'entity': entity,
            'date': keys.event_date,
            'dynamic': keys.dynamic_record,
            'facility': 'facility_code' if 'facility_code' in fields else none,
            'mother': 'mother_person_record_id'
            if 'mother_person_record_id' in keys.person_refs else none,
            'birth': 'birth_date' if 'birth_date' in fields else none,
        }) -%}
    {%- endfor -%}
    {{ return(services) }}
{%- endmacro %}

{% macro platform_plausibility_checks() -%}
    {#- every measurement with a plausibility range: a dict of entity and fields, a list of
        (field, plausibility range) in contract order, per entity that has any -#}
    {%- set checks = [] -%}
    {%- for entity, fields in platform_contract().items() -%}
        {%- set ranged = fields | selectattr(3) | list -%}
        {%- if ranged -%}
            {%- set pairs = [] -%}
            {%- for field, type, measurement, plausibility, personal in ranged -%}
                {%- do pairs.append((field, plausibility)) -%}
            {%- endfor -%}
            {%- do checks.append({'entity': entity, 'fields': pairs}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}
