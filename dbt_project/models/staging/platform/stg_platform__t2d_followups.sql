{{ config(pre_hook="{{ staging_delete_tombstoned('t2d_followups') }}") }}

{#-
    Staging: t2d_followups (2型糖尿病患者随访), typed by the platform contract (macro
    platform_staging).
    One row per type 2 diabetes follow-up; followup_mode normalised (is_face_to_face),
    fasting glucose, blood pressure and weight cleaned (spec §5/§6); has_plausible_fbg:
    the fasting glucose is usable.
-#}

{{ platform_staging('t2d_followups', staging_loaded_since(),
    custom={'followup_mode': normalised_followup_mode()},
    derived=["followup_mode = 'face_to_face' as is_face_to_face"],
    flags=['fbg']
) }}
