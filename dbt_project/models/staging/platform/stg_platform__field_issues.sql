{{ config(materialized='table', indexes=[
    {'columns': ['entity', 'record_id', 'field'], 'unique': true},
]) }}

{#-
    Staging: the field issues of every platform entity, one row per (entity, record_id, field).
    Spec §6: a value of the wrong type outside the contract keys (text in a numeric field, an
    unparseable date, a boolean that is none), a number beyond what the field can hold, or a
    value PostgreSQL cannot store (a NUL, a lone surrogate, an infinite number) is treated as
    missing: the record is kept and counts wherever it can without that field. The ingestion
    lists such fields per version in raw.<entity>.field_issues (phwarehouse.ingestion.validation);
    this model keeps those of the latest, non-deleted version of each record, so a correction that
    fixes the field makes its issue go. raw_value is the offending value as text (null when it
    could not be stored); listed in int_quality__exclusions (value_set_to_null).
    Every platform entity of the contract (macro platform_contract), not the population file.
-#}
{%- set entities = platform_contract().keys() | list -%}

with
{% for entity in entities %}
    {{ entity }} as (

        select
            '{{ entity }}' as entity,
            record_id,
            version as record_version,
            field_issues
        from {{ source('platform', entity) }}
        where
            is_latest
            and not is_deleted
            and field_issues is not null

    ),
{% endfor %}

versions as (
    {% for entity in entities %}
        select * from {{ entity }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (

    select
        v.entity,
        v.record_id,
        v.record_version,
        issue.value ->> 'field' as field,
        issue.value ->> 'reason' as reason,
        issue.value ->> 'value' as raw_value
    from versions as v
    cross join lateral jsonb_array_elements(v.field_issues) as issue (value)

)

select * from final
