{#-
    fct_indicator_values as the dashboards read it: one row per indicator × org unit × period
    with the indicator's Chinese name and domain, the org unit's township and facility (the
    columns Superset's row-level security filters on), the period's Chinese label, the status
    in Chinese and the attainment of the target. Adds labels only: no number is recomputed.
-#}

with indicator_values as (
    select * from {{ ref('fct_indicator_values') }}
),

indicators as (
    select * from {{ ref('dim_indicator') }}
),

domains as (
    select * from {{ ref('indicator_domains') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

final as (
    select
        indicator_values.indicator_value_key,
        indicator_values.indicator_code,
        indicators.name_zh as indicator_name_zh,
        indicators.display_order as indicator_order,
        indicators.unit,
        indicators.direction,
        indicators.denominator_kind,
        indicators.domain,
        domains.name_zh as domain_name_zh,
        {{ dashboard_org_columns('indicator_values') }},
        indicator_values.period_key,
        indicator_values.period_type,
        {{ period_type_label('indicator_values.period_type') }} as period_type_zh,
        periods.period_label_zh,
        indicator_values.period_end,
        indicator_values.assessment_year,
        indicator_values.numerator,
        indicator_values.denominator,
        indicator_values.multiplier,
        indicator_values.value,
        indicator_values.target_value,
        indicator_values.target_comparator,
        indicator_values.expected_to_date,
        indicator_values.on_track,
        indicator_values.status,
        case
            when indicator_values.status = 'met' then '达标'
            when indicator_values.status = 'not_met' then '未达标'
            when indicator_values.value is null then '无数据'
            else '无目标'
        end as status_zh,
        case
            when indicator_values.target_value is null or indicator_values.value is null then null
            when indicator_values.target_comparator = '>=' and indicator_values.target_value > 0
                then least(
                    round(100 * indicator_values.value / indicator_values.target_value, 1),
                    200
                )
            when indicator_values.target_comparator = '<=' and indicator_values.value > 0
                then least(
                    round(100 * indicator_values.target_value / indicator_values.value, 1),
                    200
                )
            when indicator_values.target_comparator = '<=' then 200
        end as target_attainment_pct,
        indicator_values.is_provisional,
        case when indicator_values.is_provisional then '暂定' else '' end as provisional_mark
    from indicator_values
    inner join indicators on indicator_values.indicator_code = indicators.indicator_code
    left join domains on indicators.domain = domains.domain
    inner join org_units on indicator_values.org_unit_code = org_units.org_unit_code
    inner join periods on indicator_values.period_key = periods.period_key
)

select * from final
