{{ config(pre_hook="{{ staging_delete_tombstoned('family_doctor_contracts') }}") }}

{#-
    Staging: family_doctor_contracts (家庭医生签约) from source platform.family_doctor_contracts.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'family_doctor_contracts') }}

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
        nullif(btrim(payload ->> 'team_name'), '') as team_name,
        nullif(btrim(payload ->> 'service_package'), '') as service_package,
        (jsonb_path_query_first(
            payload -> 'start_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as start_date,
        (jsonb_path_query_first(
            payload -> 'end_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as end_date
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
        team_name,
        service_package,
        start_date,
        end_date
    from typed

)

select * from final
