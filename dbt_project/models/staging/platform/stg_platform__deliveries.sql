{{ config(pre_hook="{{ staging_delete_tombstoned('deliveries') }}") }}

{#-
    Staging: deliveries (分娩记录) from source platform.deliveries.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'deliveries') }}

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
        nullif(btrim(payload ->> 'pregnancy_record_id'), '') as pregnancy_record_id,
        (jsonb_path_query_first(
            payload -> 'delivery_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as delivery_date,
        nullif(btrim(payload ->> 'delivery_institution'), '') as delivery_institution,
        nullif(btrim(payload ->> 'delivery_mode'), '') as delivery_mode,
        round((jsonb_path_query_first(
            payload -> 'gestational_week',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as gestational_week,
        nullif(btrim(payload ->> 'outcome'), '') as outcome,
        round((jsonb_path_query_first(
            payload -> 'live_births',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as live_births,
        (jsonb_path_query_first(
            payload -> 'discharge_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as discharge_date
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        person_record_id,
        pregnancy_record_id,
        delivery_date,
        delivery_institution,
        delivery_mode,
        gestational_week,
        outcome,
        live_births,
        discharge_date
    from typed

)

select * from final
