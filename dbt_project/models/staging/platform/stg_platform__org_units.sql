{{ config(pre_hook="{{ staging_delete_tombstoned('org_units') }}") }}

{#-
    Staging: org_units (机构信息) from source platform.org_units.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'org_units') }}

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
        nullif(btrim(payload ->> 'org_unit_code'), '') as org_unit_code,
        nullif(btrim(payload ->> 'name'), '') as org_unit_name,
        nullif(lower(btrim(payload ->> 'level')), '') as org_level,
        nullif(btrim(payload ->> 'parent_code'), '') as parent_org_unit_code,
        nullif(btrim(payload ->> 'division_code'), '') as division_code,
        (jsonb_path_query_first(
            payload -> 'opened_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as opened_on,
        (jsonb_path_query_first(
            payload -> 'closed_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as closed_on
    from latest

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        org_unit_code,
        org_unit_name,
        org_level,
        parent_org_unit_code,
        division_code,
        opened_on,
        closed_on
    from typed

)

select * from final
