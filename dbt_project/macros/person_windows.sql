{#-
    Incremental person x window tables. A full build computes every person for every reporting
    window. A person's row of a window depends only on the person's records and on which of
    them the data cut-off excludes (int_service_records.is_after_cutoff): window ends are
    calendar dates, not the cut-off. So an incremental run recomputes
      - every window of the persons in change scope (macros/change_scope.sql: records loaded
        since the table's previous build, or a service record dated between the previous and
        this cut-off), so that a late correction or deletion changes an old window exactly as
        a full refresh would and records entered with a future date start to count;
      - every person for the windows that started since the previous build's cut-off (the
        first day of a month adds that month's window, of a quarter or year those too);
    and drops the windows that left the reporting history. Every other row stays as it is.
    It falls back to recomputing everything when change_scope_state says so (cut-off moved
    back, org units loaded since).

    A model that stores spans of consecutive windows with the same facts instead of one row
    per window (int_records__person_window_spans) renders person_window_state(spans=true): a
    span stands for the windows that existed when it was built, so windows started or gone
    make it recompute everything. A model whose rows are per person but not one per window (per
    reported period of int_reporting_periods, per scheduled dose or per exam: the child
    vaccination and TCM tables, the SMD windows, the elderly exams) renders
    person_window_state(periods=true): periods started or gone since make it recompute
    everything (every first of a month: the first of March, June, September and December
    starts a period but no window), and otherwise only the persons in scope change.

    A model declares its config with `{{ config(**person_window_config()) }}`, renders
    `person_window_state()` once (a dict: {'mode': 'full', 'spans', 'periods'} or {'mode':
    'incremental', 'inputs_loaded_through', 'data_cutoff_date', 'has_new_windows',
    'has_gone_windows', 'spans', 'periods'}) and
    passes it to the helpers, which select the scope as person filters
    (person_window_person_filter, person_window_needs_history), per person x window conditions
    (person_window_in_scope). dbt builds those
    rows into a temp table; the incremental strategy 'person_window'
    (get_incremental_person_window_sql) then deletes that scope from the table and inserts the
    temp table's rows, in dbt's transaction (the contract's primary key, person first, makes
    any overlap an error and keeps each person's rows in a few index pages). The tables are
    keyed on int_persons.person_sk, a bigint hash of person_key (macro person_sk): the scope
    is selected by person_key and deleted by its person_sk. Each model selects its rows in
    primary-key order: the contract creates the table with its key before the insert, and
    rows inserted in key order fill the index's pages instead of splitting them (at 28 k
    residents the records table's key takes 25 MB instead of 40). The first build
    and a full refresh are dbt's own (create table as). Every row carries the state of the
    build that wrote it (person_window_build_columns), read back through an index on those
    columns.
-#}

{% macro person_window_config() -%}
    {#- config() of every person-window model, declared once: config(**person_window_config())
        in the model. The contract (primary key, person first; not-null columns) is in each
        model's yml, with its columns. -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'person_window',
        'on_schema_change': 'fail',
        'indexes': [{'columns': ['inputs_loaded_through', 'data_cutoff_date']}],
    }) }}
{%- endmacro %}

{% macro person_window_state(spans=false, periods=false) -%}
    {#- {'mode': 'full'}, or {'mode': 'incremental', 'inputs_loaded_through': text,
        'data_cutoff_date': text, 'has_new_windows': bool, 'has_gone_windows': bool} of the
        previous build (change_scope_state, macros/change_scope.sql, and the windows started or
        gone since), with 'spans' and 'periods': the arguments. A model that stores runs of
        consecutive windows (spans=true) is recomputed in full when windows started or left
        the history: a run spans the windows that existed when it was built. A model whose
        rows are not one per window (periods=true) is recomputed in full when reported periods
        started or left the history. -#}
    {%- set state = change_scope_state() -%}
    {%- set reported_periods = ref('int_reporting_periods') -%}
    {%- set windows = ref('int_reporting_windows') -%}
    {%- set all_periods = ref('int_periods') -%}
    {#- rendered while dbt parses the model: declares what the other helpers read -#}
    {%- set _ = ref('int_service_records') -%}
    {%- if state['mode'] == 'incremental' -%}
        {%- set previous_cutoff = "date '" ~ state['data_cutoff_date'] ~ "'" -%}
        {%- set query -%}
            select
                exists (
                    select from {{ windows }} as p
                    where p.period_start > {{ previous_cutoff }}
                ) as has_new_windows,
                exists (
                    select from {{ reported_periods }} as p
                    where p.period_start > {{ previous_cutoff }}
                ) as has_new_periods,
                -- reported at the previous cut-off, not any more
                exists (
                    select from {{ all_periods }} as d
                    where
                        {{ is_reported_period(previous_cutoff, 'd.') }}
                        and d.period_key not in (
                            select p.period_key from {{ reported_periods }} as p
                        )
                ) as has_gone_windows
        {%- endset -%}
        {%- set row = run_query(query).rows[0] -%}
        {%- set windows_changed = row[0] or row[2] -%}
        {%- set periods_changed = row[1] or row[2] -%}
        {%- if not (spans and windows_changed or periods and periods_changed) -%}
            {{ return({
                'mode': 'incremental',
                'inputs_loaded_through': state['inputs_loaded_through'],
                'data_cutoff_date': state['data_cutoff_date'],
                'has_new_windows': true if row[0] else false,
                'has_gone_windows': true if row[2] else false,
                'spans': spans,
                'periods': periods,
            }) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'mode': 'full', 'spans': spans, 'periods': periods}) }}
{%- endmacro %}

{% macro person_window_scope_persons(state) -%}
    {#- SELECT of the persons whose every window this incremental run recomputes -#}
    {{ change_scope_persons(state, ref('int_service_records')) }}
{%- endmacro %}

{% macro person_window_new_windows(state) -%}
    {#- SELECT of the windows that started since the previous build's cut-off -#}
    select new_windows.period_key
    from {{ ref('int_reporting_windows') }} as new_windows
    where new_windows.period_start > date '{{ state["data_cutoff_date"] }}'
{%- endmacro %}

{% macro person_window_in_scope_persons(state, person_key) -%}
    {{ person_key }} in ({{ person_window_scope_persons(state) }})
{%- endmacro %}

{% macro person_window_person_filter(state, person_key) -%}
    {#- Boolean SQL: does this run need this person's records at all? -#}
    {%- if state['mode'] == 'full' or state['has_new_windows'] -%}
        true
    {%- else -%}
        {{ person_window_in_scope_persons(state, person_key) }}
    {%- endif -%}
{%- endmacro %}

{% macro person_window_needs_history(state, person_key, event_date, reach) -%}
    {#- Boolean SQL for the facts a model reads: a full build and the persons in scope need every
        date; the other persons only the facts that reach a new window (event_date within
        `reach` before the first new window end), e.g. 12 months for EHR_USAGE. -#}
    {%- if state['mode'] == 'full' -%}
        true
    {%- elif state['has_new_windows'] -%}
        (
            {{ event_date }} > (
                select min(new_window.period_end) - {{ reach }}
                from {{ ref('int_reporting_windows') }} as new_window
                where new_window.period_key in ({{ person_window_new_windows(state) }})
            )
            or {{ person_window_in_scope_persons(state, person_key) }}
        )
    {%- else -%}
        {{ person_window_in_scope_persons(state, person_key) }}
    {%- endif -%}
{%- endmacro %}

{% macro person_window_in_scope(state, person_key, period_key) -%}
    {#- Boolean SQL: does this run (re)compute the row of this person and window? -#}
    {%- if state['mode'] == 'full' -%}
        true
    {%- elif state['has_new_windows'] -%}
        (
            {{ period_key }} in ({{ person_window_new_windows(state) }})
            or {{ person_window_in_scope_persons(state, person_key) }}
        )
    {%- else -%}
        {{ person_window_in_scope_persons(state, person_key) }}
    {%- endif -%}
{%- endmacro %}

{% macro get_incremental_person_window_sql(arg_dict) -%}
    {#- incremental_strategy 'person_window' (dbt calls it in an incremental run on an existing
        table, after it built this run's rows into arg_dict.temp_relation; "main" statement, one
        transaction): delete what the run recomputes, then insert the temp relation's rows.
        The rows were selected in the mode the model's SQL was rendered in, which
        person_window_build_columns(state) wrote into it as a comment with whether the model
        stores spans: 'full' (cut-off moved back, org units loaded; for spans also windows
        started or gone; with periods, reported periods started or gone) truncates. Else the
        persons in scope (their person_sk) through
        the primary key (person first; = any(array(...)): an index scan per person, not a hash
        join over the table) and, when there are any, the windows that started or left the
        reporting history since the previous build. The state is read again here for the
        scope (change_scope_strategy_state: if it now says 'full', org units loaded since the
        model was rendered, the run stops with an error, writing nothing). unique_key and
        incremental_predicates are not used. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set rendered = model.compiled_code or '' -%}
    {%- set state = change_scope_strategy_state(
        'person_window',
        person_window_state(
            spans='person_window_spans: true' in rendered,
            periods='person_window_periods: true' in rendered,
        ),
    ) -%}
    {%- if state['mode'] == 'full' -%}
        truncate {{ target }};
    {%- else -%}
        delete from {{ target }}
        where person_sk = any(array(
            select {{ person_sk('scope.person_key') }}
            from ({{ person_window_scope_persons(state) }}) as scope
        ));
        {%- if state['has_new_windows'] or state['has_gone_windows'] %}
            delete from {{ target }}
            where
                period_key in ({{ person_window_new_windows(state) }})
                or period_key not in (
                    select kept.period_key from {{ ref('int_reporting_windows') }} as kept
                );
        {%- endif %}
    {%- endif %}
    {{ get_incremental_append_sql(arg_dict) }}
{%- endmacro %}

{% macro person_window_build_columns(state, built_at=false) -%}
    {#- the columns every row carries (change_scope_build_columns, with built_at if asked);
        then, as a comment, the mode of `state` for the strategy -#}
    {{ change_scope_build_columns(built_at) }}
    /* person_window_mode: {{ state['mode'] }}, person_window_spans: {{ state['spans'] | lower }},
    person_window_periods: {{ state['periods'] | lower }} */
{%- endmacro %}
