{{ config(pre_hook="{{ staging_delete_tombstoned('residents') }}") }}

{#-
    Staging: residents (居民健康档案, one row per EHR) from source platform.residents.
    Keeps the latest, non-deleted version of each EHR and types the payload with safe casts.

    Privacy: name, phone and the ID number are NOT exposed. The ID number is only used here to
    compute the pseudonymous person_key = hex(HMAC-SHA256(upper(trim(id_number)), key)) and
    the ID-validity flags (spec §5). The key is held only in the warehouse: the macro renders a
    call of keyring.person_key() (macros/person_key.sql), never the key itself.
    An EHR without an ID number gets a key of its own (HMAC of 'EHR:' || record_id): it cannot
    be merged with other copies.
-#}

with source as (

    select * from {{ source('platform', 'residents') }}

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
        nullif(upper(btrim(payload ->> 'id_number')), '') as id_number,
        case
            when btrim(payload ->> 'sex_code') in ('0', '1', '2', '9')
                then btrim(payload ->> 'sex_code')
            when lower(btrim(payload ->> 'sex_code')) in ('男', 'm', 'male') then '1'
            when lower(btrim(payload ->> 'sex_code')) in ('女', 'f', 'female') then '2'
        end as sex_code_field,
        (jsonb_path_query_first(
            payload -> 'birth_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as birth_date_field,
        nullif(btrim(payload ->> 'residency_type'), '') as residency_type,
        nullif(btrim(payload ->> 'township_code'), '') as township_code,
        nullif(btrim(payload ->> 'managing_facility_code'), '') as managing_facility_code,
        nullif(btrim(payload ->> 'responsible_doctor'), '') as responsible_doctor_name,
        (jsonb_path_query_first(
            payload -> 'ehr_created_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as ehr_created_on,
        (jsonb_path_query_first(
            payload -> 'ehr_closed_on', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as ehr_closed_on,
        nullif(btrim(payload ->> 'close_reason'), '') as close_reason
    from latest

),

id_checks as (

    select
        *,
        {{ gb11643_check_digit_valid('id_number') }} as id_check_digit_valid,
        {{ gb11643_birth_date('id_number') }} as id_birth_date,
        {{ gb11643_sex_code('id_number') }} as id_sex_code
    from typed

),

final as (

    select
        record_id,
        record_version,
        source_updated_at,
        loaded_at,
        {{ person_key('id_number', 'record_id') }} as person_key,
        -- spec §6: the birth-date and sex fields win over the ID; the ID fills a missing field
        coalesce(birth_date_field, id_birth_date) as birth_date,
        coalesce(sex_code_field, id_sex_code, '0') as sex_code,
        birth_date_field is null and id_birth_date is not null as birth_date_from_id,
        residency_type,
        township_code,
        managing_facility_code,
        responsible_doctor_name,
        ehr_created_on,
        ehr_closed_on,
        close_reason,
        id_number is null as id_missing,
        id_check_digit_valid,
        id_birth_date,
        id_sex_code,
        case
            when id_number is null then null
            when id_birth_date is null or id_sex_code is null then false
            else
                coalesce(birth_date_field = id_birth_date, true)
                and coalesce(sex_code_field not in ('1', '2') or sex_code_field = id_sex_code, true)
        end as id_consistent_with_birth_sex
    from id_checks

)

select * from final
