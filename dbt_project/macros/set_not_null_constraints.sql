{% macro set_not_null_constraints() -%}
    {#- post-hook: a table model without an enforced contract gets the not_null constraints its
        yml declares as NOT NULL columns (ALTER TABLE ... SET NOT NULL), as dbt does for a
        contract: PostgreSQL checks the table in one scan when the model creates it, and then
        every row an incremental run writes, as it goes in, so no not_null_columns test node
        re-reads the table in each build. A null fails the model ("column ... contains null
        values") and skips what reads it, as a failing test did. A column already NOT NULL (an
        incremental table since the build that created it) costs PostgreSQL no scan. Views
        and seeds keep their not_null_columns test. -#}
    {%- set columns = declared_not_null_columns(model) if execute else [] -%}
    {%- if columns and config.get('materialized') in ('table', 'incremental')
        and not (model.config.get('contract') or {}).get('enforced') -%}
        alter table {{ this }}
        {%- for column in columns %}
            alter column {{ adapter.quote(column) }} set not null{{ ',' if not loop.last }}
        {%- endfor %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
