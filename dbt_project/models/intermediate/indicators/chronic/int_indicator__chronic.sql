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
    Facts in the long shape of macros/indicator_facts.sql, summed by indicator_totals().
-#}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

-- "not materialized": read more than once, yet inlined so the planner sees table statistics
htn_t2d_windows as not materialized (

    select * from {{ ref('int_chronic__htn_t2d_windows') }}

),

smd_windows as (

    select * from {{ ref('int_chronic__smd_windows') }}

),

estimated_patients as not materialized (

    select * from {{ ref('int_chronic__estimated_patients') }}

),

facts as (

    {% for condition, control_code in [('HTN', 'HTN_BP_CONTROL'), ('T2D', 'T2D_FBG_CONTROL')] %}
        {%- set of_condition = "condition = '" ~ condition ~ "'" %}
        {{ indicator_facts('htn_t2d_windows', [
            (condition ~ '_MGMT', '1', '0'),
            (condition ~ '_STD_MGMT', 'is_std_managed::int', '1'),
            (control_code, 'is_controlled::int', '1'),
        ], where='is_managed and ' ~ of_condition, windows='periods') }}

        union all

        {{ indicator_facts('estimated_patients', [
            (condition ~ '_MGMT', '0', 'estimated_patients'),
        ], where=of_condition) }}

        union all
    {% endfor %}

    {{ indicator_facts('smd_windows', [
        ('SMD_STD_MGMT', 'is_std_managed::int', '1'),
        ('SMD_STABLE', 'is_stable::int', '1'),
    ], where='is_registered') }}

),

final as (
    {{ indicator_totals('facts') }}
)

select * from final
