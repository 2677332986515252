{{ config(pre_hook="{{ staging_delete_tombstoned('vaccinations') }}") }}

{#-
    Staging: vaccinations (预防接种), typed by the platform contract (macro
    platform_staging).
    One row per vaccine dose given.
-#}

{{ platform_staging('vaccinations', staging_loaded_since()) }}
