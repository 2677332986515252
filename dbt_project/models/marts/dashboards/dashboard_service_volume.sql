{#-
    fct_service_volume as the dashboards read it: the service type's Chinese name and the
    facility's township (for row-level security). Services of an unknown facility code keep
    facility_code 'UNKNOWN' and have no township. Only the months of the reporting history (the
    months fct_indicator_values reports on) are shown: a record dated decades away is counted in
    fct_service_volume and int_quality__exclusions, not charted.
-#}

with volume as (
    select * from {{ ref('fct_service_volume') }}
),

entity_names as (
    select * from {{ ref('entity_names') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

reported_months as (
    select distinct period_start as service_month
    from {{ ref('fct_indicator_values') }}
    where period_type = 'month'
),

final as (
    select
        volume.service_volume_key,
        volume.service_month,
        to_char(volume.service_month, 'YYYY-MM') as service_month_key,
        volume.service_type,
        coalesce(entity_names.name_zh, volume.service_type) as service_type_zh,
        'facility' as org_level,
        volume.facility_code,
        coalesce(org_units.org_unit_name, '未知机构') as facility_name,
        org_units.township_code,
        org_units.township_name,
        volume.services,
        volume.excluded_services,
        volume.persons_served
    from volume
    inner join reported_months on volume.service_month = reported_months.service_month
    left join entity_names on volume.service_type = entity_names.entity
    left join org_units on volume.facility_code = org_units.org_unit_code
)

select * from final
