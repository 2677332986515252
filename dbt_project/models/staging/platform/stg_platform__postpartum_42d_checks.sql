{{ config(pre_hook="{{ staging_delete_tombstoned('postpartum_42d_checks') }}") }}

{#-
    Staging: postpartum_42d_checks (产后42天健康检查), typed by the platform contract (macro
    platform_staging).
    One row per 42-day postpartum check (recovered as a boolean).
-#}

{{ platform_staging('postpartum_42d_checks', staging_loaded_since()) }}
