{{ config(pre_hook="{{ staging_delete_tombstoned('health_exams') }}") }}

{#-
    Staging: health_exams (健康体检), typed by the platform contract (macro
    platform_staging).
    One row per health exam. Blood pressure, height, weight and fasting glucose cleaned
    (spec §5/§6; the adult height range applies to every exam: health exams are adult
    services); has_plausible_fbg: the fasting glucose is usable.
-#}

{{ platform_staging('health_exams', staging_loaded_since(),
    flags=['fbg']
) }}
