{#-
    Incremental person x window tables. A full build computes every person for every reporting
    window. An incremental run recomputes
      - every person for the open windows: those ending on or after
        data_cutoff_date - incremental_open_window_days (new months, the windows the cut-off
        still moves through, services entered a few days late);
      - every window for the persons whose records were loaded since the table's previous build
        (int_person_changes.last_loaded_at > inputs_loaded_through of the previous build, less
        incremental_change_margin_hours), so that a late correction or deletion changes an old
        window exactly as a full refresh would;
    and drops the windows that left the reporting history. A model selects its scope with
    person_window_in_scope (a condition on each person x window) or person_window_pairs (the
    pairs themselves, cheaper for a table of every person). The pre-hook deletes that scope and
    the model inserts it again (incremental_strategy='append'; the contract's primary key makes
    any overlap an error, not a silent duplicate). Seeds, vars and org units are not tracked:
    after changing them run `dbt build --full-refresh`.
-#}

{% macro person_window_watermark() -%}
    {#- inputs_loaded_through of the previous build as a SQL literal; empty in a full build
        (rendered text, not return(): sqlfluff's templater renders the callers too) -#}
    {%- if execute and this is not none and is_incremental() -%}
        {%- set result = run_query('select max(inputs_loaded_through)::text from ' ~ this) -%}
        {%- set value = result.columns[0].values()[0] -%}
        {%- if value is not none -%}
            timestamptz '{{ value }}'
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro person_window_open_since() -%}
    {#- the first window end an incremental run recomputes for every person -#}
    (date '{{ var("data_cutoff_date") }}' - {{ var('incremental_open_window_days') }})
{%- endmacro %}

{% macro person_window_changed_persons(watermark) -%}
    {#- SELECT of the persons whose data was loaded since the previous build (less the margin) -#}
    select changes.person_key
    from {{ ref('int_person_changes') }} as changes
    where
        changes.last_loaded_at
        > {{ watermark }} - interval '{{ var("incremental_change_margin_hours") }} hours'
{%- endmacro %}

{% macro person_window_needs_history(person_key, event_date, reach) -%}
    {#- Boolean SQL for the facts a model reads: a full build and the changed persons need every
        date; the other persons only the facts that reach an open window (event_date within
        `reach` before the first open window end), e.g. 12 months for EHR_USAGE. -#}
    {%- set watermark = person_window_watermark() | trim -%}
    {%- if watermark == '' -%}
        true
    {%- else -%}
        (
            {{ event_date }} > {{ person_window_open_since() }} - {{ reach }}
            or {{ person_key }} in ({{ person_window_changed_persons(watermark) }})
        )
    {%- endif -%}
{%- endmacro %}

{% macro person_window_in_scope(person_key, period_key) -%}
    {#- Boolean SQL: does this run (re)compute the row of this person and window? -#}
    {%- set watermark = person_window_watermark() | trim -%}
    {%- if watermark == '' -%}
        true
    {%- else -%}
        (
            {{ period_key }} in (
                select open_periods.period_key
                from {{ ref('int_reporting_periods') }} as open_periods
                where open_periods.period_end >= {{ person_window_open_since() }}
            )
            or {{ person_key }} in ({{ person_window_changed_persons(watermark) }})
        )
    {%- endif -%}
{%- endmacro %}

{% macro person_window_delete_scope(person_key='person_key', period_key='period_key') -%}
    {#- pre-hook: delete what this incremental run recomputes (nothing to do in a full build) -#}
    {%- if this is not none and is_incremental() -%}
        delete from {{ this }}
        where
            {{ person_window_in_scope(person_key, period_key) }}
            or {{ period_key }} not in (
                select kept.period_key from {{ ref('int_reporting_periods') }} as kept
            )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro person_window_inputs_loaded_through() -%}
    {#- the column every row carries: the latest raw load this build has seen -#}
    (select max(changes.last_loaded_at) from {{ ref('int_person_changes') }} as changes)
{%- endmacro %}

{% macro person_window_pairs(persons, person_key='person_key') -%}
    {#- SELECT of the (person_key, period_key) pairs this run computes for the persons of the
        relation or CTE `persons`: all pairs in a full build; in an incremental run the open
        windows of every person plus the other windows of the changed persons (the same scope
        as person_window_in_scope, without testing every pair). -#}
    {%- set watermark = person_window_watermark() | trim -%}
    {%- if watermark == '' -%}
        select
            x.{{ person_key }} as person_key,
            p.period_key
        from {{ persons }} as x
        cross join {{ ref('int_reporting_periods') }} as p
    {%- else -%}
        select
            x.{{ person_key }} as person_key,
            p.period_key
        from {{ persons }} as x
        cross join {{ ref('int_reporting_periods') }} as p
        where p.period_end >= {{ person_window_open_since() }}
        union all
        select
            x.{{ person_key }} as person_key,
            p.period_key
        from {{ persons }} as x
        cross join {{ ref('int_reporting_periods') }} as p
        where
            p.period_end < {{ person_window_open_since() }}
            and x.{{ person_key }} in ({{ person_window_changed_persons(watermark) }})
    {%- endif -%}
{%- endmacro %}
