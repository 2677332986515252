{{ config(pre_hook="{{ staging_delete_tombstoned('deliveries') }}") }}

{#-
    Staging: deliveries (分娩记录), typed by the platform contract (macro
    platform_staging).
    One row per delivery (live_births: 2 for live twins).
-#}

{{ platform_staging('deliveries', staging_loaded_since()) }}
