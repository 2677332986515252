{{ config(pre_hook="{{ staging_delete_tombstoned('child_tcm_guidance') }}") }}

{#-
    Staging: child_tcm_guidance (儿童中医药健康管理), typed by the platform contract (macro
    platform_staging).
    One row per TCM guidance given to a child.
-#}

{{ platform_staging('child_tcm_guidance', staging_loaded_since()) }}
