{{ config(pre_hook="{{ staging_delete_tombstoned('newborn_visits') }}") }}

{#-
    Staging: newborn_visits (新生儿家庭访视), typed by the platform contract (macro
    platform_staging).
    One row per newborn home visit; birth weight cleaned (spec §5/§6: null when
    implausible, listed in int_quality__exclusions).
-#}

{{ platform_staging('newborn_visits', staging_loaded_since()) }}
