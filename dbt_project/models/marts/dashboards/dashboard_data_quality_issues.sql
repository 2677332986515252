{#-
    The data-quality findings the dashboards list, in one shape: the exclusions and flags of
    spec §6 by facility x month (fct_exclusions_by_reason; facility rows, visible to the
    facility's and township's users) and the rows quarantined at ingestion by day
    (fct_quarantined_rows; district rows: a quarantined row has no trustworthy facility).
    Reasons and entities get their Chinese names (seeds data_quality_reasons, entity_names).
-#}

with exclusions as (
    select * from {{ ref('fct_exclusions_by_reason') }}
),

quarantined as (
    select * from {{ ref('fct_quarantined_rows') }}
),

reasons as (
    select * from {{ ref('data_quality_reasons') }}
),

entity_names as (
    select * from {{ ref('entity_names') }}
),

org_units as (
    select * from {{ ref('dim_org_unit') }}
),

unioned as (
    select
        'exclusion|' || exclusions.exclusion_summary_key as issue_key,
        '剔除与标记' as issue_source_zh,
        exclusions.event_month as issue_month,
        exclusions.entity,
        exclusions.reason,
        exclusions.reason as reason_kind,
        exclusions.exclusion_action,
        case
            when org_units.org_unit_code is not null then 'facility' else 'district'
        end as org_level,
        exclusions.facility_code,
        coalesce(org_units.org_unit_name, '未知机构') as facility_name,
        org_units.township_code,
        org_units.township_name,
        exclusions.exclusions as issue_rows,
        exclusions.records
    from exclusions
    left join org_units
        on
            exclusions.facility_code = org_units.org_unit_code
            and org_units.org_level = 'facility'

    union all

    select
        'quarantine|' || quarantined.quarantine_summary_key as issue_key,
        '入库隔离' as issue_source_zh,
        date_trunc('month', quarantined.received_on)::date as issue_month,
        quarantined.entity,
        quarantined.reason,
        quarantined.reason_kind,
        'quarantined' as exclusion_action,
        'district' as org_level,
        null as facility_code,
        null as facility_name,
        null as township_code,
        null as township_name,
        quarantined.quarantined_rows as issue_rows,
        quarantined.quarantined_rows as records
    from quarantined
),

final as (
    select
        unioned.issue_key,
        unioned.issue_source_zh,
        unioned.issue_month,
        to_char(unioned.issue_month, 'YYYY-MM') as issue_month_key,
        unioned.entity,
        coalesce(entity_names.name_zh, unioned.entity) as entity_zh,
        unioned.reason,
        coalesce(reasons.name_zh, unioned.reason_kind) as reason_zh,
        unioned.exclusion_action,
        unioned.org_level,
        unioned.facility_code,
        unioned.facility_name,
        unioned.township_code,
        unioned.township_name,
        unioned.issue_rows,
        unioned.records
    from unioned
    left join reasons on unioned.reason_kind = reasons.reason_kind
    left join entity_names on unioned.entity = entity_names.entity
)

select * from final
