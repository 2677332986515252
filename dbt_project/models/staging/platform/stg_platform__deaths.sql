{{ config(pre_hook="{{ staging_delete_tombstoned('deaths') }}") }}

{#-
    Staging: deaths (死亡登记) from source platform.deaths.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'deaths') }}

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
        (jsonb_path_query_first(
            payload -> 'death_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as death_date,
        nullif(upper(btrim(payload ->> 'underlying_cause_icd10')), '') as underlying_cause_icd10,
        nullif(btrim(payload ->> 'underlying_cause_name'), '') as underlying_cause_name,
        nullif(btrim(payload ->> 'place_of_death'), '') as place_of_death,
        case
            when lower(btrim(payload ->> 'pregnancy_related')) in ('true', 't', '1', '是')
                then true
            when lower(btrim(payload ->> 'pregnancy_related')) in ('false', 'f', '0', '否')
                then false
        end as pregnancy_related,
        (jsonb_path_query_first(
            payload -> 'reported_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as reported_on
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        death_date,
        underlying_cause_icd10,
        underlying_cause_name,
        place_of_death,
        pregnancy_related,
        reported_on
    from typed

)

select * from final
