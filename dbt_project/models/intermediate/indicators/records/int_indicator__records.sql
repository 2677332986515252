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

facility_population as (

    select
        pop.facility_code,
        p.period_key,
        sum(pop.population)::numeric as official_population
    from population as pop
    inner join periods as p on pop.population_year = p.assessment_year
    where pop.facility_code is not null
    group by pop.facility_code, p.period_key

),

person_counts as (

    select
        facility_code,
        period_key,
        count(*) filter (where is_active_ehr)::numeric as active_ehr,
        count(*) filter (where is_active_ehr and has_dynamic_record_12m)::numeric
            as active_ehr_used,
        count(*) filter (where has_active_contract)::numeric as contracted,
        count(*) filter (where is_active_ehr and is_key_population)::numeric
            as key_population_active_ehr,
        count(*) filter (
            where is_active_ehr and is_key_population and has_active_contract
        )::numeric as key_population_contracted
    from person_windows
    group by facility_code, period_key

),

facility_periods as (

    select
        coalesce(fp.facility_code, pc.facility_code) as facility_code,
        coalesce(fp.period_key, pc.period_key) as period_key,
        coalesce(fp.official_population, 0) as official_population,
        coalesce(pc.active_ehr, 0) as active_ehr,
        coalesce(pc.active_ehr_used, 0) as active_ehr_used,
        coalesce(pc.contracted, 0) as contracted,
        coalesce(pc.key_population_active_ehr, 0) as key_population_active_ehr,
        coalesce(pc.key_population_contracted, 0) as key_population_contracted
    from facility_population as fp
    full outer join person_counts as pc
        on fp.facility_code = pc.facility_code and fp.period_key = pc.period_key

),

indicators as (

    select
        'EHR_FILING' as indicator_code,
        facility_code,
        period_key,
        active_ehr as numerator,
        official_population as denominator
    from facility_periods
    union all
    select
        'EHR_USAGE' as indicator_code,
        facility_code,
        period_key,
        active_ehr_used as numerator,
        active_ehr as denominator
    from facility_periods
    union all
    select
        'FD_CONTRACT' as indicator_code,
        facility_code,
        period_key,
        contracted as numerator,
        official_population as denominator
    from facility_periods
    union all
    select
        'FD_KEYPOP_CONTRACT' as indicator_code,
        facility_code,
        period_key,
        key_population_contracted as numerator,
        key_population_active_ehr as denominator
    from facility_periods

),

final as (

    select
        indicator_code,
        facility_code,
        period_key,
        numerator,
        denominator
    from indicators
    where numerator <> 0 or denominator <> 0

)

select * from final
