{% macro default__get_where_subquery(relation) -%}
    {#- dbt's generic data tests read the tested model through this macro (it applies a test's
        `where` config). Extended for the pipeline's incremental runs: when the environment
        variable PHW_TESTS_LOADED_AFTER holds a timestamp (phwarehouse.pipeline.dbt_selection
        sets it; a full build leaves it empty), a test of an incremental model (or of a view
        over raw rows) whose meta has `tests_scope` checks only the rows the run wrote
        (tests_run_scope). -#}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set scope = tests_run_scope(relation) -%}
    {%- if scope -%}
        {%- do conditions.append(scope) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro tests_run_scope(relation) -%}
    {#- SQL condition selecting the rows this run wrote into the tested model, or '' (unscoped).
        Read only at execution (never at parse time: the value changes every run and must not
        cost dbt its partial parse). The tested model's meta `tests_scope` names the column:
        {column: c, kind: loaded_after} keeps the rows whose c is after the run's lower bound
        (the previous build's window start: rows loaded since, which the run wrote); the
        staging folder's incremental tables default to loaded_at (the raw row's). A view is
        scoped only by an explicit tests_scope (stg_platform__record_versions: the raw
        versions loaded since, which is what the run added to it). -#}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return('') }}
    {%- endif -%}
    {%- set after = env_var('PHW_TESTS_LOADED_AFTER', '') -%}
    {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if not after or tested is none
        or tested.config.materialized not in ('incremental', 'view') -%}
        {{ return('') }}
    {%- endif -%}
    {%- set scope = (tested.config.meta or {}).get('tests_scope') -%}
    {%- if not scope and tested.fqn[1] == 'staging'
        and tested.config.materialized == 'incremental' -%}
        {#- staging's incremental tables keep the raw row's loaded_at -#}
        {%- set scope = {'column': 'loaded_at', 'kind': 'loaded_after'} -%}
    {%- endif -%}
    {%- if not scope or relation.identifier != (tested.alias or tested.name) -%}
        {{ return('') }}
    {%- endif -%}
    {%- set timestamp = '[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+([+-][0-9:]+|Z)?' -%}
    {%- if not modules.re.fullmatch(timestamp, after) -%}
        {{ exceptions.raise_compiler_error('PHW_TESTS_LOADED_AFTER is not a timestamp: ' ~ after) }}
    {%- endif -%}
    {%- set column = adapter.quote(scope['column']) -%}
    {%- if scope['kind'] != 'loaded_after' -%}
        {{ exceptions.raise_compiler_error('tests_scope kind must be loaded_after') }}
    {%- endif -%}
    {{ return(column ~ " > timestamptz '" ~ after ~ "'") }}
{%- endmacro %}
