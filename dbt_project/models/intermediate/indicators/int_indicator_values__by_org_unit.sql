{#-
    Every indicator's numerator and denominator per org unit (facility, township, district) and
    reporting period. Facility rows come from the domain models int_indicator__<domain>, one
    per entry of var indicator_domains, all of one shape (macros/indicator_facts.sql); a full
    grid of the catalogue's indicators × facility × period makes a zero explicit (annual-only
    indicators: years only). Townships and the district are SUMS of their facilities'
    numerators and denominators, never averages of rates.
-#}

{#- one import CTE per indicator domain (var indicator_domains) -#}
with
{% for domain in var('indicator_domains') %}
    {{ domain }}_values as (
        select * from {{ ref('int_indicator__' ~ domain) }}
    ),
{% endfor %}

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
    {% for domain in var('indicator_domains') %}
        select
            indicator_code,
            facility_code,
            period_key,
            numerator,
            denominator
        from {{ domain }}_values
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

grid as (
    select
        catalogue.indicator_code,
        facilities.org_unit_code as facility_code,
        facilities.township_code,
        facilities.district_code,
        periods.period_key
    from catalogue
    cross join org_units as facilities
    cross join periods
    where
        facilities.org_level = 'facility'
        and (not catalogue.is_annual_only or periods.period_type = 'year')
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
