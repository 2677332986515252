{{ config(pre_hook="{{ staging_delete_tombstoned('prenatal_exams') }}") }}

{#-
    Staging: prenatal_exams (产前检查), typed by the platform contract (macro
    platform_staging).
    One row per prenatal exam; blood pressure and weight cleaned (spec §5/§6: null when
    implausible, listed in int_quality__exclusions).
-#}

{{ platform_staging('prenatal_exams', staging_loaded_since()) }}
