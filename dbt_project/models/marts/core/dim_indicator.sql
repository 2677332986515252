{#- The indicator catalogue (seed), as dashboards and exports read it. -#}

with catalogue as (
    select * from {{ ref('indicator_catalogue') }}
),

final as (
    select
        indicator_code,
        display_order,
        name_zh,
        name_en,
        domain,
        multiplier,
        unit,
        direction,
        is_cumulative_coverage,
        is_annual_only,
        denominator_kind,
        numerator_within_denominator,
        definition,
        spec_section
    from catalogue
)

select * from final
