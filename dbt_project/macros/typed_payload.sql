{#-
    Staging types a platform payload through the platform contract: platform_contract()
    (macros/generated, generated from phwarehouse.contract) lists each entity's fields with
    their type, so a staging model names its entity and writes only what is special to it.
    Safe casts (spec §6): a value that does not parse (text in a numeric field, an impossible
    date, a boolean that is none) becomes null, never an error; text is trimmed, '' is null.
-#}

{% macro typed_payload(entity, rename={}, custom={}) -%}
    {#- The select list typing raw.<entity>: the envelope (record_id, record_version,
        source_updated_at, loaded_at), each payload field in contract order (custom[field],
        SQL, in place of the contract's typing; personal identifiers left out unless custom;
        named rename[field] or the field), then each field with a plausibility range as
        <field>_raw (plausible_measurements cleans them). -#}
    {%- set fields = platform_contract()[entity] -%}
    record_id,
    version as record_version,
    source_updated_at,
    loaded_at
    {%- for field, type, measurement, plausibility, personal in fields %}
        {%- if field in custom %},
    {{ custom[field] }} as {{ rename.get(field, field) }}
        {%- elif not personal and not plausibility %},
    {{ typed_payload_field(field, type) }} as {{ rename.get(field, field) }}
        {%- endif %}
    {%- endfor %}
    {%- for field, type, measurement, plausibility, personal in fields if plausibility %},
    {{ typed_payload_field(field, type) }} as {{ field }}_raw
    {%- endfor %}
{%- endmacro %}

{% macro typed_payload_field(field, type) -%}
    {#- payload ->> field as the contract's type (string, integer, number, boolean, date,
        datetime, month), null when it does not parse -#}
    {%- if type == 'string' -%}
        {{ payload_text(field) }}
    {%- elif type == 'integer' -%}
        round((jsonb_path_query_first(
            payload -> '{{ field }}',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer
    {%- elif type == 'number' -%}
        (jsonb_path_query_first(payload -> '{{ field }}', '$.double()', '{}', true))::numeric
    {%- elif type == 'boolean' -%}
        case
            when lower(btrim(payload ->> '{{ field }}')) in ('true', 't', '1', '是') then true
            when lower(btrim(payload ->> '{{ field }}')) in ('false', 'f', '0', '否') then false
        end
    {%- elif type in ('date', 'month') -%}
        (jsonb_path_query_first(
            payload -> '{{ field }}',
            '$.datetime("{{ 'YYYY-MM-DD' if type == 'date' else 'YYYY-MM' }}")', '{}', true
        ) #>> '{}')::date
    {%- elif type == 'datetime' -%}
        (jsonb_path_query_first(
            to_jsonb(replace(payload ->> '{{ field }}', 'Z', '+00:00')), '$.datetime()', '{}', true
        ) #>> '{}')::timestamptz
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown contract type '" ~ type ~ "' of " ~ field) }}
    {%- endif -%}
{%- endmacro %}

{% macro payload_text(field, case=none) -%}
    {#- payload ->> field trimmed, '' as null; case 'upper' or 'lower' folds it -#}
    {%- if case -%}
        nullif({{ case }}(btrim(payload ->> '{{ field }}')), '')
    {%- else -%}
        nullif(btrim(payload ->> '{{ field }}'), '')
    {%- endif -%}
{%- endmacro %}

{% macro staged_columns(entity) -%}
    {#- The columns typed_payload(entity) gave the envelope and the plain payload fields, in
        contract order (personal identifiers and measurements with a plausibility range left
        out), for a model's final select -#}
    record_id,
    record_version,
    source_updated_at,
    loaded_at
    {%- for field, type, measurement, plausibility, personal in platform_contract()[entity]
        if not personal and not plausibility %},
    {{ field }}
    {%- endfor %}
{%- endmacro %}

{% macro plausible_measurements(entity) -%}
    {#- Each measurement of `entity` with a plausibility range, in contract order: <field>_raw
        as sent and <field> null when implausible (plausible_or_null); sbp with dbp through
        cleaned_blood_pressure (sbp, dbp, has_plausible_bp) -#}
    {%- set fields = platform_contract()[entity] | selectattr(3) | list -%}
    {%- for field, type, measurement, plausibility, personal in fields
        if plausibility != 'dbp' %}
        {%- if plausibility == 'sbp' %}
    sbp_raw,
    dbp_raw,
    {{ cleaned_blood_pressure() }}
        {%- else %}
    {{ field }}_raw,
    {{ plausible_or_null(field ~ '_raw', plausibility) }} as {{ field }}
        {%- endif %}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro normalised_followup_mode(field='followup_mode') -%}
    {#- a follow-up's mode as face_to_face or telephone (the platform's synonyms), else null -#}
    case
        when
            lower(btrim(payload ->> '{{ field }}'))
            in ('face_to_face', 'face-to-face', '面对面', '门诊', '家庭')
            then 'face_to_face'
        when lower(btrim(payload ->> '{{ field }}')) in ('telephone', 'phone', '电话')
            then 'telephone'
    end
{%- endmacro %}

{% macro platform_staging(entity, loaded_since, rename={}, custom={}, derived=[], flags=[]) -%}
    {#- A whole staging model of a platform entity: the latest, non-deleted version of each
        record loaded since (loaded_since: the model's staging_loaded_since()), typed
        (typed_payload); then the envelope and plain fields (staged_columns), the model's
        derived columns, its measurements cleaned (plausible_measurements) and a
        has_plausible_<range> flag per range in flags. The typed rows are materialized: a
        CTE's columns are otherwise expanded into every reference, and the cleaning refers to a
        measurement up to ten times (each a jsonpath evaluation). -#}
    {%- set measured = platform_contract()[entity] | selectattr(3) | list -%}
    with typed as materialized (

        select
            {{ typed_payload(entity, rename, custom) }}
        from {{ source('platform', entity) }}
        where is_latest and not is_deleted {{ loaded_since }}

    ),

    final as (

        select
        {%- if measured or derived %}
            {{ staged_columns(entity) }}
            {%- for column in derived %},
            {{ column }}
            {%- endfor %}
            {%- if measured %},
            {{ plausible_measurements(entity) }}
            {%- endif %}
            {%- for field, type, measurement, plausibility, personal in measured
                if plausibility in flags %},
            coalesce({{ is_plausible(field ~ '_raw', plausibility) }}, false)
                as has_plausible_{{ plausibility }}
            {%- endfor %}
        {%- else %}
            *
        {%- endif %}
        from typed

    )

    select * from final
{%- endmacro %}
