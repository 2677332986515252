{#-
    fct_reporting_completeness as the dashboards read it (spec §4): the facility's township name
    (and the columns row-level security filters on), the assessment year and month key, the
    report's status in Chinese, and 0/1 counts so that a chart pools rates over facilities and
    months: completeness = Σ received_reports / Σ expected_reports, timeliness = Σ
    on_time_reports / Σ expected_reports, over the months whose due date has passed.
-#}

with completeness as (
    select * from {{ ref('fct_reporting_completeness') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

periods as (
    select * from {{ ref('dim_period') }}
),

final as (
    select
        completeness.reporting_key,
        completeness.report_month,
        to_char(completeness.report_month, 'YYYY-MM') as report_month_key,
        periods.assessment_year,
        'facility' as org_level,
        completeness.facility_code,
        completeness.facility_name,
        completeness.township_code,
        org_units.township_name,
        completeness.due_date,
        completeness.submitted_on,
        completeness.days_late,
        case
            when completeness.is_on_time then '按时上报'
            when completeness.is_received then '逾期上报'
            when completeness.is_due then '未上报'
            else '未到截止日'
        end as report_status_zh,
        completeness.is_due::integer as expected_reports,
        (completeness.is_due and completeness.is_received)::integer as received_reports,
        (completeness.is_due and completeness.is_on_time)::integer as on_time_reports,
        case
            when completeness.is_due and completeness.is_received then completeness.days_late
        end as due_days_late
    from completeness
    left join org_units on completeness.facility_code = org_units.org_unit_code
    left join periods
        on
            periods.period_type = 'month'
            and completeness.report_month = periods.period_start
)

select * from final
