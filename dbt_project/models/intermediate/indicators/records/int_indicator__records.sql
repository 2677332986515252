{{ config(materialized='table') }}

{#-
    Health records and family doctors indicators (spec §2): one row per indicator_code x
    primary-care facility x period_key with numerator and denominator (no rates; higher levels
    sum both). Person counts come from int_records__person_window_spans (persons attributed to
    the facility as of the window end): the spans with the same facility, windows and flags are
    counted first (persons), and each such group is given to the windows it covers
    (windows_of_spans, as the view int_records__person_windows does person by person);
    population denominators are the official population of the facility's catchment township
    for the window's assessment year (int_population).
    - EHR_FILING: persons with an active EHR / official population;
    - EHR_USAGE: active EHRs with a dynamic record in the 12 months ending at the window end /
      active EHRs;
    - FD_CONTRACT: persons alive with a contract active at the window end / official population;
    - FD_KEYPOP_CONTRACT: key-population persons with an active EHR and an active contract /
      key-population persons with an active EHR.
    Rows whose numerator and denominator are both 0 are omitted.
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

{#- what a span group shares: facility, windows and the flags the indicators count -#}
{%- set group_columns = [
    'facility_code', 'first_period_end', 'last_period_end', 'is_active_ehr',
    'has_dynamic_record_12m', 'has_active_contract', 'is_key_population',
] %}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

population as (

    select * from {{ ref('int_population') }}

),

windows as (

    select * from {{ ref('int_reporting_windows') }}

),

spans as (

    select * from {{ ref('int_records__person_window_spans') }}

),

-- the persons of each facility with the same windows and the same counted flags
span_groups as (

    select
        {{ group_columns | join(',\n        ') }},
        count(*) as persons
    from spans
    group by
        {{ group_columns | join(',\n        ') }}

),

window_groups as (

    {{ windows_of_spans('span_groups', 'windows') }}

),

facts as (

    {{ indicator_facts('window_groups', [
        ('EHR_FILING', 'persons * is_active_ehr::int', '0'),
        (
            'EHR_USAGE',
            'persons * (is_active_ehr and has_dynamic_record_12m)::int',
            'persons * is_active_ehr::int',
        ),
        ('FD_CONTRACT', 'persons * has_active_contract::int', '0'),
        (
            'FD_KEYPOP_CONTRACT',
            'persons * (is_active_ehr and is_key_population and has_active_contract)::int',
            'persons * (is_active_ehr and is_key_population)::int',
        ),
    ], windows='periods') }}

    union all

    {{ population_denominator_facts(['EHR_FILING', 'FD_CONTRACT']) }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
