{#-
    Official resident population (spec §1, statistics bureau) by year x township x sex x single
    year of age, with the township's catchment facility (population-based denominators of a
    facility are its catchment township's population). facility_code is null for a township
    code the org units do not know (such rows still count at district level).
-#}

with population as (

    select * from {{ ref('stg_platform__stat_population') }}

),

org_units as (

    select * from {{ ref('int_org_units') }}

),

final as (

    select
        p.population_year,
        p.township_code,
        coalesce(p.township_name, o.org_unit_name) as township_name,
        o.facility_code,
        o.district_code,
        o.org_unit_code is not null as is_known_township,
        p.sex_code,
        p.age,
        p.population
    from population as p
    left join org_units as o
        on p.township_code = o.org_unit_code and o.org_level = 'township'

)

select * from final
