{{ config(pre_hook="{{ staging_delete_tombstoned('child_health_checks') }}") }}

{#-
    Staging: child_health_checks (儿童健康检查), typed by the platform contract (macro
    platform_staging).
    One row per child health check; weight cleaned (spec §5/§6), height as sent (the
    plausible height range is of adults).
-#}

{{ platform_staging('child_health_checks', staging_loaded_since()) }}
