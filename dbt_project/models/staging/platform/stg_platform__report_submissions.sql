{{ config(pre_hook="{{ staging_delete_tombstoned('report_submissions') }}") }}

{#-
    Staging: report_submissions (月度工作报表报送) from source platform.report_submissions.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'report_submissions') }}

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
        nullif(btrim(payload ->> 'facility_code'), '') as facility_code,
        (jsonb_path_query_first(
            payload -> 'report_month', '$.datetime("YYYY-MM")', '{}', true
        ) #>> '{}')::date as report_month,
        (jsonb_path_query_first(
            to_jsonb(replace(payload ->> 'submitted_at', 'Z', '+00:00')),
            '$.datetime()', '{}', true
        ) #>> '{}')::timestamptz as submitted_at,
        nullif(btrim(payload ->> 'reporter_name'), '') as reporter_name
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        facility_code,
        report_month,
        submitted_at,
        reporter_name
    from typed

)

select * from final
