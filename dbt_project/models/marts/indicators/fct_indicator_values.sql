{#-
    The warehouse's public interface for indicator values: one row per indicator × org unit
    (facility / township / district) × reporting period (month and quarter year-to-date, year),
    with the value computed from summed numerator and denominator, the year's target, status,
    序时进度 for cumulative-coverage indicators and the provisional flag.
-#}

with values_by_org as (
    select * from {{ ref('int_indicator_values__by_org_unit') }}
),

ncd_bands as (
    select * from {{ ref('int_ncd_premature_bands__by_org_unit') }}
),

periods as (
    select * from {{ ref('int_reporting_periods') }}
),

catalogue as (
    select * from {{ ref('indicator_catalogue') }}
),

targets as (
    select * from {{ ref('indicator_targets') }}
),

org_units as (
    select * from {{ ref('int_org_units') }}
),

ncd_values as (
    select
        org_level,
        org_unit_code,
        period_key,
        case
            when bool_or(coalesce(death_probability, 0) >= 1) then 100::numeric
            else
                (1 - exp(sum(ln(1 - coalesce(death_probability, 0)))))::numeric * 100
        end as value
    from ncd_bands
    group by org_level, org_unit_code, period_key
),

valued as (
    select
        values_by_org.indicator_code,
        values_by_org.org_level,
        values_by_org.org_unit_code,
        values_by_org.period_key,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.assessment_year,
        periods.months_elapsed,
        periods.is_provisional,
        catalogue.multiplier,
        catalogue.is_cumulative_coverage,
        values_by_org.numerator,
        values_by_org.denominator,
        case
            -- a life table (OUT_NCD_PREMATURE): from its age bands, not the ratio
            when catalogue.denominator_kind = 'life_table' then ncd_values.value
            else {{ rate_value('values_by_org.numerator', 'values_by_org.denominator',
                               'catalogue.multiplier') }}
        end as value
    from values_by_org
    inner join periods on values_by_org.period_key = periods.period_key
    inner join catalogue on values_by_org.indicator_code = catalogue.indicator_code
    left join ncd_values
        on
            catalogue.denominator_kind = 'life_table'
            and values_by_org.org_level = ncd_values.org_level
            and values_by_org.org_unit_code = ncd_values.org_unit_code
            and values_by_org.period_key = ncd_values.period_key
),

with_previous_year as (
    select
        valued.*,
        previous.value as previous_year_value
    from valued
    left join valued as previous
        on
            valued.period_type = 'year'
            and previous.period_type = 'year'
            and valued.indicator_code = previous.indicator_code
            and valued.org_unit_code = previous.org_unit_code
            and valued.assessment_year - 1 = previous.assessment_year
),

targeted as (
    select
        with_previous_year.*,
        targets.comparator as target_comparator,
        targets.target_value,
        coalesce(targets.is_reference_only, false) as target_is_reference_only,
        case
            when with_previous_year.is_cumulative_coverage and targets.target_value is not null
                then targets.target_value * with_previous_year.months_elapsed / 12.0
        end as expected_to_date
    from with_previous_year
    left join targets
        on
            with_previous_year.indicator_code = targets.indicator_code
            and with_previous_year.assessment_year = targets.year
),

final as (
    select
        targeted.indicator_code
        || '|' || targeted.org_unit_code
        || '|' || targeted.period_key as indicator_value_key,
        targeted.indicator_code,
        targeted.org_unit_code,
        org_units.org_unit_name,
        targeted.org_level,
        targeted.period_key,
        targeted.period_type,
        targeted.period_start,
        targeted.period_end,
        targeted.assessment_year,
        targeted.numerator::numeric as numerator,
        targeted.denominator::numeric as denominator,
        targeted.multiplier::numeric as multiplier,
        round(targeted.value, 4) as value,
        targeted.target_value::numeric as target_value,
        targeted.target_comparator,
        targeted.target_is_reference_only,
        case
            when targeted.value is null or targeted.target_is_reference_only then null
            when targeted.target_comparator = '>='
                then case when targeted.value >= targeted.target_value then 'met' else 'not_met' end
            when targeted.target_comparator = '<='
                then case when targeted.value <= targeted.target_value then 'met' else 'not_met' end
            when
                targeted.target_comparator = 'decrease'
                and targeted.previous_year_value is not null
                then
                    case
                        when targeted.value < targeted.previous_year_value then 'met'
                        else 'not_met'
                    end
        end as status,
        round(targeted.expected_to_date, 4) as expected_to_date,
        case
            when targeted.expected_to_date is not null and targeted.value is not null
                then targeted.value >= targeted.expected_to_date
        end as on_track,
        targeted.is_provisional
    from targeted
    left join org_units on targeted.org_unit_code = org_units.org_unit_code
)

select * from final
