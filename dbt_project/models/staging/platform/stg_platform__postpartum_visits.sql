{{ config(pre_hook="{{ staging_delete_tombstoned('postpartum_visits') }}") }}

{#-
    Staging: postpartum_visits (产后访视), typed by the platform contract (macro
    platform_staging).
    One row per postpartum visit; blood pressure cleaned (spec §5/§6: null when
    implausible, a swapped pair nulled, listed in int_quality__exclusions).
-#}

{{ platform_staging('postpartum_visits', staging_loaded_since()) }}
