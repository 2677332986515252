{{ config(pre_hook="{{ staging_delete_tombstoned('smd_registry') }}") }}

{#-
    Staging: smd_registry (严重精神障碍患者管理卡), typed by the platform contract (macro
    platform_staging).
    One row per severe mental disorder management card; living_at_home as a boolean.
-#}

{{ platform_staging('smd_registry', staging_loaded_since()) }}
