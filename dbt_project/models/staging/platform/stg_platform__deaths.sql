{{ config(pre_hook="{{ staging_delete_tombstoned('deaths') }}") }}

{#-
    Staging: deaths (死亡登记), typed by the platform contract (macro
    platform_staging).
    One row per death; the underlying cause's ICD-10 code upper-cased.
-#}

{{ platform_staging('deaths', staging_loaded_since(),
    custom={'underlying_cause_icd10': payload_text('underlying_cause_icd10', 'upper')}
) }}
