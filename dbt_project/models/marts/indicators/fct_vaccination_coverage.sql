{#-
    CH_VACCINATION broken down by vaccine and dose: children due in the window and those who
    received the dose, per org unit and reporting period (sums of facilities up the hierarchy).
-#}

with doses as (
    select * from {{ ref('int_indicator__vaccination_doses') }}
),

org_units as (
    select * from {{ ref('int_org_units') }}
),

periods as (
    select * from {{ ref('int_reporting_periods') }}
),

facilities as (
    select
        org_unit_code as facility_code,
        township_code,
        district_code
    from org_units
    where org_level = 'facility'
),

joined as (
    select
        doses.vaccine_code,
        doses.dose_number,
        doses.period_key,
        doses.children_due,
        doses.children_vaccinated,
        facilities.facility_code,
        facilities.township_code,
        facilities.district_code
    from doses
    inner join facilities on doses.facility_code = facilities.facility_code
),

by_level as (
    {{ sum_by_org_level(
        'joined',
        group_by=['vaccine_code', 'dose_number', 'period_key'],
        measures=['children_due', 'children_vaccinated'],
    ) }}
),

final as (
    select
        by_level.org_unit_code || '|' || by_level.vaccine_code || '|'
        || by_level.dose_number::text || '|' || by_level.period_key as coverage_key,
        by_level.org_level,
        by_level.org_unit_code,
        by_level.vaccine_code,
        by_level.dose_number,
        by_level.period_key,
        periods.period_type,
        periods.period_end,
        by_level.children_due::bigint as children_due,
        by_level.children_vaccinated::bigint as children_vaccinated,
        round({{ rate_value('by_level.children_vaccinated', 'by_level.children_due') }}, 4)
            as coverage_pct
    from by_level
    inner join periods on by_level.period_key = periods.period_key
)

select * from final
