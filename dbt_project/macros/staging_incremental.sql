{#-
    Staging models are incremental tables keyed on record_id: a run types only the raw rows
    loaded since the table's latest loaded_at (less incremental_change_margin_hours, for loads
    that committed while the previous build ran), replaces those records (delete+insert), and
    its pre-hook deletes the records whose latest version is now a tombstone. A full refresh
    types every latest version again.
-#}

{% macro staging_loaded_since() -%}
    {#- SQL condition on the raw rows an incremental run reads (none in a full build) -#}
    {%- if this is not none and is_incremental() -%}
        and loaded_at > {{ loaded_since_last_run('loaded_at') }}
    {%- endif -%}
{%- endmacro %}

{% macro staging_delete_tombstoned(entity) -%}
    {#- pre-hook: records deleted on the platform since the last run leave the staging table
        (nothing to render, so no statement, when the table is built from scratch) -#}
    {%- if this is not none and is_incremental() -%}
        delete from {{ this }}
        where record_id in (
            select tombstone.record_id
            from {{ source('platform', entity) }} as tombstone
            where
                tombstone.is_latest
                and tombstone.is_deleted
                and tombstone.loaded_at > {{ loaded_since_last_run('loaded_at') }}
        )
    {%- endif -%}
{%- endmacro %}

{% macro loaded_since_last_run(loaded_at_column) -%}
    {#- The raw loaded_at an incremental run reads from: the latest one this table holds, less
        incremental_change_margin_hours (a load that commits late keeps its start time) -#}
    (
        select {{ less_change_margin('max(previous.' ~ loaded_at_column ~ ')') }}
        from {{ this }} as previous
    )
{%- endmacro %}

{% macro less_change_margin(loaded_at) -%}
    {#- a loaded_at less incremental_change_margin_hours: where an incremental read starts -#}
    {{ loaded_at }} - interval '{{ var("incremental_change_margin_hours") }} hours'
{%- endmacro %}
