{{ config(materialized='table') }}

{#-
    Chronic disease indicators (spec §2): one row per indicator_code x primary-care facility x
    period_key with numerator and denominator (no rates; higher levels sum both).
    - HTN_MGMT / T2D_MGMT: managed patients / estimated patients (int_chronic__estimated_patients,
      exact numeric);
    - HTN_STD_MGMT / T2D_STD_MGMT: managed patients standardly managed / managed patients;
    - HTN_BP_CONTROL / T2D_FBG_CONTROL: managed patients controlled at the most recent reading /
      managed patients;
    - SMD_STD_MGMT / SMD_STABLE: registered patients standardly managed / stable, over
      registered patients.
    Person flags come from int_chronic__htn_t2d_windows and int_chronic__smd_windows. Rows
    whose numerator and denominator are both 0 are omitted.
-#}

with htn_t2d_windows as (

    select * from {{ ref('int_chronic__htn_t2d_windows') }}

),

smd_windows as (

    select * from {{ ref('int_chronic__smd_windows') }}

),

estimated_patients as (

    select * from {{ ref('int_chronic__estimated_patients') }}

),

htn_t2d_counts as (

    select
        condition,
        facility_code,
        period_key,
        count(*)::numeric as managed,
        count(*) filter (where is_std_managed)::numeric as std_managed,
        count(*) filter (where is_controlled)::numeric as controlled
    from htn_t2d_windows
    where is_managed
    group by condition, facility_code, period_key

),

management as (

    select
        coalesce(c.condition, e.condition) as condition,
        coalesce(c.facility_code, e.facility_code) as facility_code,
        coalesce(c.period_key, e.period_key) as period_key,
        coalesce(c.managed, 0) as managed,
        coalesce(e.estimated_patients, 0) as estimated_patients
    from htn_t2d_counts as c
    full outer join estimated_patients as e
        on
            c.condition = e.condition
            and c.facility_code = e.facility_code
            and c.period_key = e.period_key

),

smd_counts as (

    select
        facility_code,
        period_key,
        count(*)::numeric as registered,
        count(*) filter (where is_std_managed)::numeric as std_managed,
        count(*) filter (where is_stable)::numeric as stable_patients
    from smd_windows
    where is_registered
    group by facility_code, period_key

),

indicators as (

    select
        condition || '_MGMT' as indicator_code,
        facility_code,
        period_key,
        managed as numerator,
        estimated_patients as denominator
    from management
    union all
    select
        condition || '_STD_MGMT' as indicator_code,
        facility_code,
        period_key,
        std_managed as numerator,
        managed as denominator
    from htn_t2d_counts
    union all
    select
        case condition
            when 'HTN' then 'HTN_BP_CONTROL'
            when 'T2D' then 'T2D_FBG_CONTROL'
        end as indicator_code,
        facility_code,
        period_key,
        controlled as numerator,
        managed as denominator
    from htn_t2d_counts
    union all
    select
        'SMD_STD_MGMT' as indicator_code,
        facility_code,
        period_key,
        std_managed as numerator,
        registered as denominator
    from smd_counts
    union all
    select
        'SMD_STABLE' as indicator_code,
        facility_code,
        period_key,
        stable_patients as numerator,
        registered as denominator
    from smd_counts

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
