{#-
    The periods the warehouse reports on: int_periods rows whose period has started by the data
    cut-off, for the cut-off's assessment year and the `reporting_history_years` before it.
    Every indicator model computes its window [window_start, period_end] for these rows only.
-#}
{%- set cutoff = data_cutoff_date() -%}

with periods as (
    select * from {{ ref('int_periods') }}
),

final as (
    select
        period_key,
        period_type,
        period_start,
        period_end,
        window_start,
        months_elapsed,
        assessment_year,
        provisional_until,
        provisional_until > '{{ cutoff }}'::date as is_provisional
    from periods
    where
        {{ is_reported_period("'" ~ cutoff ~ "'::date") }}
)

select * from final
