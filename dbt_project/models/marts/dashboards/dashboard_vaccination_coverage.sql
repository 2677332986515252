{#-
    fct_vaccination_coverage as the dashboards read it: vaccine names, the org unit's township
    and facility (for row-level security) and the period's Chinese label.
-#}

with coverage as (
    select * from {{ ref('fct_vaccination_coverage') }}
),

vaccines as (
    select distinct
        vaccine_code,
        vaccine_name_zh
    from {{ ref('immunization_schedule') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

final as (
    select
        coverage.coverage_key,
        coverage.vaccine_code,
        vaccines.vaccine_name_zh,
        coverage.dose_number,
        vaccines.vaccine_name_zh || '（第' || coverage.dose_number || '剂）' as vaccine_dose_zh,
        {{ dashboard_org_columns('coverage') }},
        coverage.period_key,
        coverage.period_type,
        {{ period_type_label('coverage.period_type') }} as period_type_zh,
        periods.period_label_zh,
        coverage.period_end,
        coverage.children_due,
        coverage.children_vaccinated,
        coverage.coverage_pct
    from coverage
    inner join vaccines on coverage.vaccine_code = vaccines.vaccine_code
    inner join org_units on coverage.org_unit_code = org_units.org_unit_code
    inner join periods on coverage.period_key = periods.period_key
)

select * from final
