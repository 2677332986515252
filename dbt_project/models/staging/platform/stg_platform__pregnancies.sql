{{ config(pre_hook="{{ staging_delete_tombstoned('pregnancies') }}") }}

{#-
    Staging: pregnancies (孕产妇保健手册(建册)), typed by the platform contract (macro
    platform_staging).
    One row per maternal health booklet; the gestational week at registration cleaned
    (spec §5/§6: null outside plausible_gestational_week_*).
-#}

{{ platform_staging('pregnancies', staging_loaded_since()) }}
