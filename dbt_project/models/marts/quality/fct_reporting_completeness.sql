{#-
    Reporting completeness and timeliness (spec §4): one row per primary-care facility x month
    of the reporting history (int_reporting_periods' months) in which the facility was open,
    i.e. opened on or before the month's last day and not closed on or before its first day.
    Each such facility-month expects one monthly work report (月度工作报表), due by the
    var('facility_report_due_day') (default 25th) of that month. The report is the facility's
    report_submissions record for the month (the earliest, should there be several); its
    submission date is the local date (var('reporting_timezone'), default Asia/Shanghai) of
    submitted_at. on time = submitted on or before the due date; days_late = days after it.
    is_due: the due date has passed by the data cut-off (a month whose due date is still to
    come is expected but not yet counted as missing). Reports of unknown facilities are listed
    in int_quality__exclusions, not here.
-#}
{%- set due_day = var('facility_report_due_day') -%}
{%- set cutoff = data_cutoff_date() -%}
{%- set tz = var('reporting_timezone') -%}

with periods as (

    select * from {{ ref('int_reporting_periods') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),

report_submissions as (

    select * from {{ ref('stg_platform__report_submissions') }}

),

months as (

    select
        period_start as report_month,
        period_end as month_end,
        (period_start + interval '{{ due_day - 1 }} days')::date as due_date
    from periods
    where period_type = 'month'

),

facilities as (

    select
        org_unit_code as facility_code,
        org_unit_name as facility_name,
        township_code,
        opened_on,
        closed_on
    from org_units
    where org_level = 'facility'

),

expected as (

    select
        f.facility_code,
        f.facility_name,
        f.township_code,
        m.report_month,
        m.due_date
    from facilities as f
    inner join months as m
        on
            (f.opened_on is null or f.opened_on <= m.month_end)
            and (f.closed_on is null or f.closed_on > m.report_month)

),

received as (

    select
        facility_code,
        report_month,
        min(submitted_at) as submitted_at,
        count(*) as reports
    from report_submissions
    where facility_code is not null and report_month is not null
    group by facility_code, report_month

),

final as (

    select
        e.facility_code || '|' || to_char(e.report_month, 'YYYY-MM') as reporting_key,
        e.facility_code,
        e.facility_name,
        e.township_code,
        e.report_month,
        e.due_date,
        e.due_date <= '{{ cutoff }}'::date as is_due,
        r.facility_code is not null as is_received,
        r.submitted_at,
        (r.submitted_at at time zone '{{ tz }}')::date as submitted_on,
        coalesce((r.submitted_at at time zone '{{ tz }}')::date <= e.due_date, false)
            as is_on_time,
        case
            when r.submitted_at is not null
                then greatest((r.submitted_at at time zone '{{ tz }}')::date - e.due_date, 0)
        end as days_late,
        coalesce(r.reports, 0) as reports_received
    from expected as e
    left join received as r
        on e.facility_code = r.facility_code and e.report_month = r.report_month

)

select * from final
