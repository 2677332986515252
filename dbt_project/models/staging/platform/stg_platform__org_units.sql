{{ config(pre_hook="{{ staging_delete_tombstoned('org_units') }}") }}

{#-
    Staging: org_units (机构信息), typed by the platform contract (macro
    platform_staging).
    One row per org unit; its level lower-cased.
-#}

{{ platform_staging('org_units', staging_loaded_since(),
    rename={'name': 'org_unit_name', 'level': 'org_level', 'parent_code': 'parent_org_unit_code'},
    custom={'level': payload_text('level', 'lower')}
) }}
