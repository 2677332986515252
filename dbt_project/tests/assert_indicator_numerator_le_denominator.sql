-- Rate indicators whose numerator is a subset of the denominator (catalogue flag) never exceed
-- it, at any org level and period. Population-based rates (EHR_FILING, ...) are not checked.
with indicator_values as (
    select * from {{ ref('fct_indicator_values') }}
),

catalogue as (
    select * from {{ ref('dim_indicator') }}
)

select
    indicator_values.indicator_value_key,
    indicator_values.numerator,
    indicator_values.denominator
from indicator_values
inner join catalogue on indicator_values.indicator_code = catalogue.indicator_code
where
    catalogue.numerator_within_denominator
    and indicator_values.numerator > indicator_values.denominator
