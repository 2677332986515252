{#-
    Every indicator's numerator and denominator per org unit (facility, township, district) and
    reporting period. Facility rows come from the domain models (int_indicator__<domain>); a
    full grid of indicator × facility × period makes a zero explicit. Townships and the district
    are SUMS of their facilities' numerators and denominators, never averages of rates.
    OUT_NCD_PREMATURE has no simple ratio: its rows carry deaths and population aged 30–69 and
    its value is computed from the age-band inputs in fct_ncd_premature_bands.
-#}

with records as (
    select * from {{ ref('int_indicator__records') }}
),

chronic as (
    select * from {{ ref('int_indicator__chronic') }}
),

elderly as (
    select * from {{ ref('int_indicator__elderly') }}
),

maternal as (
    select * from {{ ref('int_indicator__maternal') }}
),

child as (
    select * from {{ ref('int_indicator__child') }}
),

outcomes as (
    select * from {{ ref('int_indicator__outcomes') }}
),

ncd_bands as (
    select * from {{ ref('int_indicator__ncd_premature_bands') }}
),

catalogue as (
    select * from {{ ref('indicator_catalogue') }}
),

periods as (
    select * from {{ ref('int_reporting_periods') }}
),

org_units as (
    select * from {{ ref('int_org_units') }}
),

facility_values as (
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from records
    union all
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from chronic
    union all
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from elderly
    union all
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from maternal
    union all
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from child
    union all
    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from outcomes
    union all
    select
        'OUT_NCD_PREMATURE' as indicator_code,
        facility_code,
        period_key,
        sum(deaths) as numerator,
        sum(population) as denominator
    from ncd_bands
    group by facility_code, period_key
),

facilities as (
    select
        org_unit_code as facility_code,
        township_code,
        district_code
    from org_units
    where org_level = 'facility'
),

grid as (
    select
        catalogue.indicator_code,
        facilities.facility_code,
        facilities.township_code,
        facilities.district_code,
        periods.period_key
    from catalogue
    cross join facilities
    cross join periods
    where not catalogue.is_annual_only or periods.period_type = 'year'
),

facility_level as (
    select
        grid.indicator_code,
        grid.facility_code,
        grid.township_code,
        grid.district_code,
        grid.period_key,
        coalesce(sum(facility_values.numerator), 0) as numerator,
        coalesce(sum(facility_values.denominator), 0) as denominator
    from grid
    left join facility_values
        on
            grid.indicator_code = facility_values.indicator_code
            and grid.facility_code = facility_values.facility_code
            and grid.period_key = facility_values.period_key
    group by
        grid.indicator_code,
        grid.facility_code,
        grid.township_code,
        grid.district_code,
        grid.period_key
),

by_level as (
    {{ sum_by_org_level(
        'facility_level',
        group_by=['indicator_code', 'period_key'],
        measures=['numerator', 'denominator'],
    ) }}
)

select * from by_level
