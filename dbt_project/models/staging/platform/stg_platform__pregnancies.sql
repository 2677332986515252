{{ config(pre_hook="{{ staging_delete_tombstoned('pregnancies') }}") }}

{#-
    Staging: pregnancies (孕产妇保健手册(建册)) from source platform.pregnancies.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'pregnancies') }}

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
        (jsonb_path_query_first(
            payload -> 'lmp', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as lmp,
        (jsonb_path_query_first(
            payload -> 'registered_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as registered_on,
        (jsonb_path_query_first(
            payload -> 'expected_delivery_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as expected_delivery_date,
        round((jsonb_path_query_first(
            payload -> 'gravidity',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as gravidity,
        round((jsonb_path_query_first(
            payload -> 'parity',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as parity,
        (jsonb_path_query_first(
            payload -> 'closed_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as closed_on,
        nullif(btrim(payload ->> 'close_reason'), '') as close_reason,
        round((jsonb_path_query_first(
            payload -> 'gestational_week_at_registration',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as gestational_week_at_registration_raw
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
        lmp,
        registered_on,
        expected_delivery_date,
        gravidity,
        parity,
        closed_on,
        close_reason,
        gestational_week_at_registration_raw,
        {{ plausible_or_null('gestational_week_at_registration_raw', 'gestational_week') }}
            as gestational_week_at_registration
    from typed

)

select * from final
