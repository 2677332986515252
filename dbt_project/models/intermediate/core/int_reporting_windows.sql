{#-
    The distinct windows of the reporting periods: one row per window [window_start,
    period_end], as its coarsest period (macros/reporting_periods.sql), with the columns of
    int_reporting_periods. The person x window tables compute each window once, under this
    period_key; indicator_facts(windows=...) gives a window's facts to every reporting period
    with it.
-#}

with reporting_periods as (

    select * from {{ ref('int_reporting_periods') }}

),

final as (

    {{ reporting_windows('reporting_periods') }}

)

-- the columns of int_reporting_periods, declared there
select * from final  -- noqa: AM04
