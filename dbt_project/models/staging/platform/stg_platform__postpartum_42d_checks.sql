{{ config(pre_hook="{{ staging_delete_tombstoned('postpartum_42d_checks') }}") }}

{#-
    Staging: postpartum_42d_checks (产后42天健康检查) from source platform.postpartum_42d_checks.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'postpartum_42d_checks') }}

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
        nullif(btrim(payload ->> 'delivery_record_id'), '') as delivery_record_id,
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        (jsonb_path_query_first(
            payload -> 'check_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as check_date,
        case
            when lower(btrim(payload ->> 'recovered')) in ('true', 't', '1', '是')
                then true
            when lower(btrim(payload ->> 'recovered')) in ('false', 'f', '0', '否')
                then false
        end as recovered
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        delivery_record_id,
        facility_code,
        check_date,
        recovered
    from typed

)

select * from final
