{{ config(pre_hook="{{ staging_delete_tombstoned('htn_followups') }}") }}

{#-
    Staging: htn_followups (高血压患者随访), typed by the platform contract (macro
    platform_staging).
    One row per hypertension follow-up; followup_mode normalised (is_face_to_face), blood
    pressure and weight cleaned (spec §5/§6: null when implausible, a swapped pair nulled).
-#}

{{ platform_staging('htn_followups', staging_loaded_since(),
    custom={'followup_mode': normalised_followup_mode()},
    derived=["followup_mode = 'face_to_face' as is_face_to_face"]
) }}
