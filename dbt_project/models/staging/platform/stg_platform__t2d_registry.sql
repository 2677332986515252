{{ config(pre_hook="{{ staging_delete_tombstoned('t2d_registry') }}") }}

{#-
    Staging: t2d_registry (2型糖尿病患者管理卡), typed by the platform contract (macro
    platform_staging).
    One row per type 2 diabetes management card (enrolment to withdrawal).
-#}

{{ platform_staging('t2d_registry', staging_loaded_since()) }}
