{{ config(pre_hook="{{ staging_delete_tombstoned('family_doctor_contracts') }}") }}

{#-
    Staging: family_doctor_contracts (家庭医生签约), typed by the platform contract (macro
    platform_staging).
    One row per signed contract period (start_date to end_date).
-#}

{{ platform_staging('family_doctor_contracts', staging_loaded_since()) }}
