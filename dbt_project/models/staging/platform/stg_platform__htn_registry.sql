{{ config(pre_hook="{{ staging_delete_tombstoned('htn_registry') }}") }}

{#-
    Staging: htn_registry (高血压患者管理卡), typed by the platform contract (macro
    platform_staging).
    One row per hypertension management card (enrolment to withdrawal).
-#}

{{ platform_staging('htn_registry', staging_loaded_since()) }}
