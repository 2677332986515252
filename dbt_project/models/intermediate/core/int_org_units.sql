{#-
    Org hierarchy (spec §1): district -> township/street -> primary-care facility -> station.
    One row per org unit with its district, township and primary-care facility:
    - township: itself; its facility = its catchment facility (the facility whose parent it is;
      the default org file has exactly one per township, the lowest code wins otherwise);
    - facility: its parent township (its catchment) and itself;
    - station: its parent facility and that facility's township;
    - district: itself only.
-#}

with org_units as (

    select * from {{ ref('stg_platform__org_units') }}

),

units as (

    select
        org_unit_code,
        org_unit_name,
        org_level,
        parent_org_unit_code,
        division_code,
        opened_on,
        closed_on
    from org_units

),

township_facility as (

    select
        parent_org_unit_code as township_code,
        min(org_unit_code) as facility_code,
        count(*) as facility_count
    from units
    where org_level = 'facility'
    group by parent_org_unit_code

),

with_parents as (

    select
        u.*,
        p1.org_level as parent_level,
        p2.org_unit_code as grandparent_code,
        p2.org_level as grandparent_level,
        p3.org_unit_code as great_grandparent_code,
        p3.org_level as great_grandparent_level
    from units as u
    left join units as p1 on u.parent_org_unit_code = p1.org_unit_code
    left join units as p2 on p1.parent_org_unit_code = p2.org_unit_code
    left join units as p3 on p2.parent_org_unit_code = p3.org_unit_code

),

resolved as (

    select
        *,
        case
            when org_level = 'district' then org_unit_code
            when parent_level = 'district' then parent_org_unit_code
            when grandparent_level = 'district' then grandparent_code
            when great_grandparent_level = 'district' then great_grandparent_code
        end as district_code,
        case
            when org_level = 'township' then org_unit_code
            when parent_level = 'township' then parent_org_unit_code
            when grandparent_level = 'township' then grandparent_code
        end as township_code,
        case
            when org_level = 'facility' then org_unit_code
            when parent_level = 'facility' then parent_org_unit_code
        end as own_facility_code
    from with_parents

),

final as (

    select
        r.org_unit_code,
        r.org_unit_name,
        r.org_level,
        case r.org_level
            when 'district' then 1
            when 'township' then 2
            when 'facility' then 3
            when 'station' then 4
        end as level_rank,
        r.parent_org_unit_code,
        r.division_code,
        r.opened_on,
        r.closed_on,
        r.district_code,
        r.township_code,
        coalesce(r.own_facility_code, tf.facility_code) as facility_code,
        r.org_level in ('facility', 'station') as is_service_unit
    from resolved as r
    left join township_facility as tf
        on r.org_level = 'township' and r.org_unit_code = tf.township_code

)

select * from final
