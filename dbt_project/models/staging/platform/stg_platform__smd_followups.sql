{{ config(pre_hook="{{ staging_delete_tombstoned('smd_followups') }}") }}

{#-
    Staging: smd_followups (严重精神障碍患者随访) from source platform.smd_followups.
    Keeps the latest, non-deleted version of each record (spec §6: tombstones count nowhere,
    the latest correction wins) and types the JSON payload with safe casts: a value that does
    not parse (text in a numeric field, an impossible date) becomes null, never an error.
-#}

with source as (

    select * from {{ source('platform', 'smd_followups') }}

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
            payload -> 'followup_date', '$.datetime("YYYY-MM-DD")', '{}', true
        ) #>> '{}')::date as followup_date,
        case
            when
                lower(btrim(payload ->> 'followup_mode'))
                in ('face_to_face', 'face-to-face', '面对面', '门诊', '家庭')
                then 'face_to_face'
            when lower(btrim(payload ->> 'followup_mode')) in ('telephone', 'phone', '电话')
                then 'telephone'
        end as followup_mode,
        round((jsonb_path_query_first(
            payload -> 'danger_level',
            '$.double() ? (@ > -1e9 && @ < 1e9 && @ == @.floor())', '{}', true
        ))::numeric)::integer as danger_level,
        nullif(btrim(payload ->> 'stability'), '') as stability,
        nullif(btrim(payload ->> 'medication_adherence'), '') as medication_adherence,
        nullif(btrim(payload ->> 'doctor_name'), '') as doctor_name
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
        followup_date,
        followup_mode,
        danger_level,
        stability,
        medication_adherence,
        doctor_name,
        followup_mode = 'face_to_face' as is_face_to_face
    from typed

)

select * from final
