{#-
    The calendar of reporting periods (built here, read by the marts' dim_period and by the
    indicator models): one row per period_type (month / quarter / year) and period.
    Year rows are assessment years first_year .. last_year (var assessment_year_start_month;
    with a start month other than January, assessment year Y runs from that month of Y-1 to
    the month before it in Y). Month and quarter rows are calendar months / quarters covering
    those assessment years. Every period's indicator window is [window_start, period_end].
-#}
{%- set first_year = var('first_year', 2019) | int -%}
{%- set last_year = var('last_year', 2027) | int -%}
{%- set start_month = var('assessment_year_start_month', 1) | int -%}
{%- if start_month < 1 or start_month > 12 or first_year > last_year -%}
    {{ exceptions.raise_compiler_error(
        "int_periods: need 1 <= assessment_year_start_month <= 12 and first_year <= last_year") }}
{%- endif -%}
{%- set year_offset = 0 if start_month == 1 else 1 -%}

with assessment_years as (
    select
        y.assessment_year,
        make_date(y.assessment_year - {{ year_offset }}, {{ start_month }}, 1) as period_start
    from generate_series({{ first_year }}, {{ last_year }}) as y (assessment_year)
),

years as (
    select
        'year' as period_type,
        assessment_year::text as period_key,
        period_start,
        (period_start + interval '1 year - 1 day')::date as period_end,
        assessment_year as period_year,
        null::integer as period_quarter,
        null::integer as period_month,
        assessment_year::text || '年' as period_label_zh
    from assessment_years
),

coverage as (
    select
        min(period_start) as range_start,
        max(period_end) as range_end
    from years
),

months as (
    select
        'month' as period_type,
        to_char(m.month_start, 'YYYY-MM') as period_key,
        m.month_start::date as period_start,
        (m.month_start + interval '1 month - 1 day')::date as period_end,
        extract(year from m.month_start)::integer as period_year,
        extract(quarter from m.month_start)::integer as period_quarter,
        extract(month from m.month_start)::integer as period_month,
        extract(year from m.month_start)::integer::text || '年'
        || extract(month from m.month_start)::integer::text || '月' as period_label_zh
    from coverage as c
    cross join
        generate_series(c.range_start, c.range_end, interval '1 month') as m (month_start)
),

quarters as (
    select
        'quarter' as period_type,
        to_char(q.quarter_start, 'YYYY') || '-Q'
        || extract(quarter from q.quarter_start)::integer::text as period_key,
        q.quarter_start::date as period_start,
        (q.quarter_start + interval '3 months - 1 day')::date as period_end,
        extract(year from q.quarter_start)::integer as period_year,
        extract(quarter from q.quarter_start)::integer as period_quarter,
        null::integer as period_month,
        extract(year from q.quarter_start)::integer::text || '年第'
        || extract(quarter from q.quarter_start)::integer::text || '季度' as period_label_zh
    from coverage as c
    cross join
        generate_series(
            date_trunc('quarter', c.range_start), c.range_end, interval '3 months'
        ) as q (quarter_start)
    where
        (q.quarter_start + interval '3 months - 1 day')::date
        between c.range_start and c.range_end
),

all_periods as (
    select * from years
    union all
    select * from quarters
    union all
    select * from months
),

final as (
    select
        period_key,
        period_type,
        period_start,
        period_end,
        {{ assessment_year_start('period_end') }} as window_start,
        period_year,
        period_quarter,
        period_month,
        period_label_zh
    from all_periods
)

select
    period_key::text as period_key,
    period_type::text as period_type,
    period_start,
    period_end,
    window_start,
    {{ months_between_inclusive('window_start', 'period_end') }} as months_elapsed,
    period_year as year,
    extract(year from window_start)::integer + {{ year_offset }} as assessment_year,
    period_quarter as quarter,
    period_month as month,
    (period_end - period_start + 1) as days_in_period,
    period_label_zh::text as period_label_zh,
    (
        period_end
        + {{ var('provisional_extra_days', 28) | int }}
        + {{ var('reporting_lag_days', 15) | int }}
    ) as provisional_until
from final
