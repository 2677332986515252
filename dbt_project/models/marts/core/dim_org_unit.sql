{#- Org units as the platform publishes them, with their place in the hierarchy. -#}

with org_units as (
    select * from {{ ref('int_org_units') }}
),

names as (
    select
        org_unit_code,
        org_unit_name
    from org_units
),

final as (
    select
        org_units.org_unit_code,
        org_units.org_unit_name,
        org_units.org_level,
        org_units.level_rank,
        org_units.parent_org_unit_code,
        org_units.division_code,
        org_units.district_code,
        district.org_unit_name as district_name,
        org_units.township_code,
        township.org_unit_name as township_name,
        org_units.facility_code,
        facility.org_unit_name as facility_name,
        org_units.opened_on,
        org_units.closed_on,
        org_units.is_service_unit
    from org_units
    left join names as district on org_units.district_code = district.org_unit_code
    left join names as township on org_units.township_code = township.org_unit_code
    left join names as facility on org_units.facility_code = facility.org_unit_code
)

select * from final
