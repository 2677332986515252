{{ config(materialized='table') }}

{#-
    Health records and family doctors indicators (spec §2): one row per indicator_code x
    primary-care facility x period_key with numerator and denominator (no rates; higher levels
    sum both). Person counts come from int_records__person_windows (persons attributed to the
    facility as of the window end); population denominators are the official population of the
    facility's catchment township for the window's assessment year (int_population).
    - EHR_FILING: persons with an active EHR / official population;
    - EHR_USAGE: active EHRs with a dynamic record in the 12 months ending at the window end /
      active EHRs;
    - FD_CONTRACT: persons alive with a contract active at the window end / official population;
    - FD_KEYPOP_CONTRACT: key-population persons with an active EHR and an active contract /
      key-population persons with an active EHR.
    Rows whose numerator and denominator are both 0 are omitted.
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

population as (

    select * from {{ ref('int_population') }}

),

person_windows as (

    select * from {{ ref('int_records__person_windows') }}

),

facts as (

    {{ indicator_facts('person_windows', [
        ('EHR_FILING', 'is_active_ehr::int', '0'),
        ('EHR_USAGE', '(is_active_ehr and has_dynamic_record_12m)::int', 'is_active_ehr::int'),
        ('FD_CONTRACT', 'has_active_contract::int', '0'),
        (
            'FD_KEYPOP_CONTRACT',
            '(is_active_ehr and is_key_population and has_active_contract)::int',
            '(is_active_ehr and is_key_population)::int',
        ),
    ], windows='periods') }}

    union all

    {{ population_denominator_facts(['EHR_FILING', 'FD_CONTRACT']) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
