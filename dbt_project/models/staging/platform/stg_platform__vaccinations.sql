{{ config(pre_hook="{{ staging_delete_tombstoned('vaccinations') }}") }}

{#-
    Staging: vaccinations (预防接种) from source platform.vaccinations.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'vaccinations') }}

),

latest as (

    select
        record_id,
        version,
        source_updated_at,
        loaded_at,
        payload
    from source
    where
        is_latest and not is_deleted
        {{ staging_loaded_since() }}

),

typed as (

    select
        record_id,
        version as record_version,
        source_updated_at,
        loaded_at,
        nullif(btrim(payload ->> 'person_record_id'), '') as person_record_id,
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        nullif(btrim(payload ->> 'vaccine_code'), '') as vaccine_code,
        nullif(btrim(payload ->> 'vaccine_name'), '') as vaccine_name,
        round((jsonb_path_query_first(
            payload -> 'dose_number',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as dose_number,
        (jsonb_path_query_first(
            payload -> 'vaccination_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as vaccination_date,
        nullif(btrim(payload ->> 'batch_number'), '') as batch_number
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        facility_code,
        vaccine_code,
        vaccine_name,
        dose_number,
        vaccination_date,
        batch_number
    from typed

)

select * from final
