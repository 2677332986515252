{{ config(pre_hook="{{ staging_delete_tombstoned('report_submissions') }}") }}

{#-
    Staging: report_submissions (月度工作报表报送), typed by the platform contract (macro
    platform_staging).
    One row per monthly report; report_month is the first day of the month.
-#}

{{ platform_staging('report_submissions', staging_loaded_since()) }}
