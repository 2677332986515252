{% macro is_reported_period(cutoff, prefix='') -%}
    {#- Boolean SQL: the int_periods row (columns optionally qualified by `prefix`, e.g. 'd.')
        is reported at the data cut-off `cutoff` (a SQL date expression): started by then, in
        the cut-off's assessment year or the reporting_history_years before it. The rule of
        int_reporting_periods; the incremental person-window state applies it to the previous
        build's cut-off. -#}
    {{ prefix }}period_start <= {{ cutoff }}
    and {{ prefix }}assessment_year >= extract(year from {{ cutoff }})::integer
    - {{ var('reporting_history_years') }}
{%- endmacro %}
