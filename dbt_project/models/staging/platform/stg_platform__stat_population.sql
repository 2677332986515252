{{ config(materialized='view', indexes=[]) }}

{#-
    Staging: official resident population (常住人口) of the statistics bureau by year, township,
    sex (GB/T 2261.1 '1' / '2') and single year of age, from source platform.stat_population.
-#}

with source as (

    select * from {{ source('platform', 'stat_population') }}

),

final as (

    select
        year as population_year,
        btrim(township_code) as township_code,
        nullif(btrim(township_name), '') as township_name,
        btrim(sex_code) as sex_code,
        age,
        population,
        source_file,
        batch_id,
        loaded_at
    from source

)

select * from final
