{#-
    Custom schemas per target (dbt structure guide's pattern; targets in profiles.yml):
    - `prod` (the pipeline) and `ci` (the test suite's throwaway cluster) use a configured
      custom schema verbatim: staging, intermediate, marts_candidate / marts, reference;
    - every other target (`dev`, a developer's default) prefixes it with the target schema:
      dev_staging, dev_intermediate, dev_marts, dev_reference; a target schema that is itself a
      production schema name is refused, so a prefixed name can never be mistaken for one.
    Nodes without a custom schema fall back to the target schema from profiles.yml.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set verbatim_targets = ['prod', 'ci'] -%}
    {%- set production_schemas = [
        'raw', 'ops', 'staging', 'intermediate', 'marts', 'marts_candidate', 'marts_previous',
        'reference', 'quality', 'keyring', 'snapshots', 'public', 'analytics'
    ] -%}
    {%- if target.name in verbatim_targets -%}
        {{ custom_schema_name | trim if custom_schema_name is not none else target.schema }}
    {%- elif target.schema in production_schemas -%}
        {{ exceptions.raise_compiler_error(
            "target " ~ target.name ~ ": schema '" ~ target.schema ~ "' is a production schema;"
            ~ " set WAREHOUSE_DEV_SCHEMA to a name of your own (e.g. dev_<you>)") }}
    {%- elif custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
