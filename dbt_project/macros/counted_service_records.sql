{% macro counted_service_records(entities=none, where=none) -%}
    {#- SELECT of the service records that count (int_service_records: not excluded, spec
        §5/§6) with the person each is attributed to: entity, record_id, person_key,
        service_date, is_dynamic_record. `entities`: a list of entities (default: every one);
        `where`: an optional further condition, e.g. the incremental person filter. An
        indicator model joins its staging model to this on (entity, record_id). -#}
    select
        entity,
        record_id,
        person_key,
        service_date,
        is_dynamic_record
    from {{ ref('int_service_records') }}
    where
        not is_excluded
        and person_key is not null
        {%- if entities %}
            and entity in ('{{ entities | join("', '") }}')
        {%- endif %}
        {%- if where %}
            and {{ where }}
        {%- endif %}
{%- endmacro %}
