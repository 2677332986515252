{{ config(pre_hook="{{ staging_delete_tombstoned('smd_followups') }}") }}

{#-
    Staging: smd_followups (严重精神障碍患者随访), typed by the platform contract (macro
    platform_staging).
    One row per severe mental disorder follow-up; followup_mode normalised (is_face_to_face).
-#}

{{ platform_staging('smd_followups', staging_loaded_since(),
    custom={'followup_mode': normalised_followup_mode()},
    derived=["followup_mode = 'face_to_face' as is_face_to_face"]
) }}
