{{ config(pre_hook="{{ staging_delete_tombstoned('postpartum_visits') }}") }}

{#-
    Staging: postpartum_visits (产后访视) from source platform.postpartum_visits.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
    Plausibility (spec §5/§6): <measure>_raw is the value as sent; <measure> is null when
    implausible (macro plausible_or_null, vars plausible_*; for blood pressure also when
    SBP <= DBP). Every nulled value is listed in int_quality__exclusions.
-#}

with source as (

    select * from {{ source('platform', 'postpartum_visits') }}

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
            payload -> 'visit_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as visit_date,
        nullif(btrim(payload ->> 'breastfeeding'), '') as breastfeeding,
        round((jsonb_path_query_first(
            payload -> 'sbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as sbp_raw,
        round((jsonb_path_query_first(
            payload -> 'dbp',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as dbp_raw
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
        visit_date,
        breastfeeding,
        sbp_raw,
        dbp_raw,
        {{ cleaned_blood_pressure() }}
    from typed

)

select * from final
