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

{% macro reporting_windows(periods) -%}
    {#- SELECT of one row per distinct window [window_start, period_end] of the relation
        `periods` (columns of int_reporting_periods), as the window's coarsest period (a year
        before a quarter before a month). Windows are year-to-date, so a quarter's window is
        that of its last month and a year's that of its last quarter and month: the person x
        window tables compute each window once, under this period_key, and
        indicator_facts(windows=...) gives its facts to every period of the window. A coarser
        period starts no later than a finer one with its window, so a window keeps its key for
        as long as it is reported. -#}
    select distinct on (w.window_start, w.period_end) w.*
    from {{ periods }} as w
    order by
        w.window_start,
        w.period_end,
        case w.period_type when 'year' then 1 when 'quarter' then 2 else 3 end
{%- endmacro %}

{% macro windows_of_spans(spans, windows) -%}
    {#- SELECT of every column of `spans` (rows with first_period_end and last_period_end, a
        run of consecutive windows) with the period_key of each window of `windows`
        (int_reporting_windows) it covers: those whose period_end lies between the two. The
        one place a span is given back to its windows. -#}
    select
        w.period_key,
        s.*
    from {{ spans }} as s
    inner join {{ windows }} as w
        on w.period_end between s.first_period_end and s.last_period_end
{%- endmacro %}
