{% macro analyze_after_build() -%}
    {#- post-hook: fresh planner statistics for a table this run (re)created. A table model is a
        new relation every run and autovacuum analyzes it only up to a minute later, while the
        next models already read it: without statistics PostgreSQL guesses row counts and picks
        sorts and merge joins that take several times longer. Incremental tables keep theirs
        between runs and are analyzed when built from scratch, or recomputed whole by their
        strategy (the change-scope and person-window models in mode 'full', said by their SQL:
        truncated and refilled, their statistics no longer describe them; at 600 k a model
        reading such a table once took 455 s instead of 4). A table no model reads (a mart
        only Superset, the exports and the quality gate read) is left to autovacuum: its
        readers come after the build, and filter or scan small tables. Otherwise it renders
        nothing, and dbt runs no statement for it. -#}
    {%- set materialized = config.get('materialized') -%}
    {%- set recomputed = '_mode: full' in (model.compiled_code or '') -%}
    {%- set rebuilt = materialized == 'incremental' and (not is_incremental() or recomputed) -%}
    {%- set read = namespace(by_model=false) -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and model.unique_id in node.depends_on.nodes -%}
            {%- set read.by_model = true -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if execute and read.by_model and (materialized == 'table' or rebuilt) -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
