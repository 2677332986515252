{#-
    Incremental tables whose rows follow persons: the person x window tables
    (macros/person_windows.sql), the service records (int_service_records, strategy
    'record_scope' below) and the merged persons (int_persons, strategy 'person_scope').
    Every row carries the state of the build that wrote it (change_scope_build_columns); the
    next build reads it back (change_scope_state) and recomputes
      - what concerns the persons whose records were loaded since that build
        (int_person_changes.last_loaded_at > inputs_loaded_through, less
        incremental_change_margin_hours), so that a late correction or deletion changes old
        rows exactly as a full refresh would;
      - what concerns the persons with a service record dated after that build's cut-off and
        on or before this one (change_scope_persons): their records start to count, and a
        death registration moves their death date.
    Everything is recomputed when the cut-off moved back or org units were loaded since (an org
    unit change can re-attribute anyone). Seeds and other vars are not tracked: after changing
    them run `dbt build --full-refresh`.
-#}

{% macro change_scope_config(strategy, indexes=[]) -%}
    {#- config() of a change-scope model, declared once: config(**change_scope_config(strategy))
        in the model: incremental with its strategy, an index on the build columns (read by
        change_scope_state) and the model's `indexes`, its data tests scoped to the rows a run
        wrote (built_at after the run's lower bound, macros/scoped_tests.sql) -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': strategy,
        'on_schema_change': 'fail',
        'indexes': [{'columns': ['inputs_loaded_through', 'data_cutoff_date']}] + indexes,
        'meta': {'tests_scope': {'column': 'built_at', 'kind': 'loaded_after'}},
    }) }}
{%- endmacro %}

{% macro change_scope_state() -%}
    {#- {'mode': 'full'} or {'mode': 'incremental', 'inputs_loaded_through': text,
        'data_cutoff_date': text}: the state of the previous build, read from the model's own
        table (`this`) in an incremental run. sqlfluff's templater renders the callers without
        a database (execute undefined): it takes the 'full' path and lints the full-build
        SQL. -#}
    {%- if not execute or (this is not none and is_incremental()) -%}
        {#- org-unit loads, through staging: every raw version, so a new one is seen although
            stg_platform__org_units keeps only the latest. Rendered while dbt parses the model
            (declares it) and in an incremental build (reads it), not in a unit test (the
            full-build SQL, which does not read it: the test need not give it) -#}
        {%- set record_versions = ref('stg_platform__record_versions') -%}
    {%- endif -%}
    {#- rendered while dbt parses the model: declares what the other helpers read -#}
    {%- set _ = ref('int_person_changes') -%}
    {%- if execute and this is not none and is_incremental()
        and 'inputs_loaded_through' in adapter.get_columns_in_relation(this)
        | map(attribute='name') | list -%}
        {#- (a table built before it carried the build columns renders its full SQL, and dbt's
            on_schema_change check says a full refresh is needed) -#}
        {%- set query -%}
            with previous_build as (
                select inputs_loaded_through, data_cutoff_date
                from {{ this }}
                order by inputs_loaded_through desc, data_cutoff_date desc
                limit 1
            )
            select
                b.inputs_loaded_through::text,
                b.data_cutoff_date::text,
                b.data_cutoff_date > date '{{ data_cutoff_date() }}'
                or exists (
                    select from {{ record_versions }} as o
                    where
                        o.entity = 'org_units'
                        and o.loaded_at > {{ less_change_margin('b.inputs_loaded_through') }}
                ) as needs_everything
            from previous_build as b
        {%- endset -%}
        {%- set row = run_query(query).rows -%}
        {%- if row | length == 1 and row[0][0] is not none and not row[0][2] -%}
            {{ return({
                'mode': 'incremental',
                'inputs_loaded_through': row[0][0] | string,
                'data_cutoff_date': row[0][1] | string,
            }) }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'mode': 'full'}) }}
{%- endmacro %}

{% macro change_scope_changed_since(state) -%}
    {#- SQL timestamptz: raw rows loaded after it are new to this incremental run (the previous
        build's inputs_loaded_through less the change margin) -#}
    {{ less_change_margin("timestamptz '" ~ state['inputs_loaded_through'] ~ "'") }}
{%- endmacro %}

{% macro change_scope_persons(state, service_records) -%}
    {#- SELECT of the persons whose rows this incremental run recomputes: records loaded since
        the previous build (int_person_changes), or a service record in `service_records`
        (int_service_records, or its previous build) dated after the previous cut-off and on or
        before this one, naming them or (newborn visits) their mother -#}
    select changes.person_key
    from {{ ref('int_person_changes') }} as changes
    where changes.last_loaded_at > {{ change_scope_changed_since(state) }}
    union
    select crossing_person.person_key
    from {{ service_records }} as crossing
    cross join
        lateral (
            values (crossing.person_key), (crossing.mother_person_key)
        ) as crossing_person (person_key)
    where
        crossing.service_date > date '{{ state["data_cutoff_date"] }}'
        and crossing.service_date <= date '{{ data_cutoff_date() }}'
        and crossing_person.person_key is not null
{%- endmacro %}

{% macro change_scope_build_columns(built_at=false) -%}
    {#- the columns every row carries: the latest raw load and the cut-off of this build, and
        with built_at=true the time of the build's transaction (its data tests' scope: the rows
        a run wrote, also when it moved only the cut-off or refilled the table) -#}
    (select max(changes.last_loaded_at) from {{ ref('int_person_changes') }} as changes)
        as inputs_loaded_through,
    date '{{ data_cutoff_date() }}' as data_cutoff_date
    {%- if built_at %},
        transaction_timestamp() as built_at
    {%- endif %}
{%- endmacro %}

{% macro change_scope_strategy_state(strategy, state=none) -%}
    {#- The state an incremental strategy of these tables works in: {'mode': 'full'} when the
        model's SQL was rendered in mode 'full' (its comment `<strategy>_mode: full`), else the
        incremental state read again now, in the run's transaction: `state` when the caller
        read it (person_window_state), else change_scope_state(). If that has become 'full'
        (org units loaded since the model was rendered), the model's rows cover only the scope:
        the run stops with an error and writes nothing, and the next run recomputes the whole
        table. -#}
    {%- set rendered = model.compiled_code or '' -%}
    {%- if strategy ~ '_mode: full' in rendered -%}
        {{ return({'mode': 'full'}) }}
    {%- elif strategy ~ '_mode: incremental' not in rendered -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": its SQL does not say the mode it was rendered in;"
            ~ (" select person_window_build_columns(state)" if strategy == 'person_window'
               else " write /* " ~ strategy ~ "_mode: <mode> */")
        ) }}
    {%- endif -%}
    {%- set state = state if state is not none else change_scope_state() -%}
    {%- if state['mode'] == 'full' -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": org units were loaded while it was being built, so its rows cover"
            ~ " only this run's scope; nothing was written. The next run recomputes the whole"
            ~ " table."
        ) }}
    {%- endif -%}
    {{ return(state) }}
{%- endmacro %}

{% macro get_incremental_record_scope_sql(arg_dict) -%}
    {#- incremental_strategy 'record_scope' of int_service_records (one row per entity and
        record_id; dbt calls it in an incremental run on an existing table, after it built this
        run's rows into arg_dict.temp_relation; "main" statement, one transaction). The model
        wrote the mode it was rendered in into its SQL as a comment (record_scope_mode; see
        change_scope_strategy_state): 'full' truncates. Else it deletes the rows of the records
        the run recomputed (the temp relation's) and of the records with a raw version loaded
        since the previous build that are not in staging (deleted on the platform: nothing
        replaces them; a record still in staging that the model did not select, e.g. an older
        version received late or a version committed while the build ran, keeps its row, which
        is what its staging row gives), then inserts the temp relation's rows. unique_key and
        incremental_predicates are not used. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set state = change_scope_strategy_state('record_scope') -%}
    {%- if state['mode'] == 'full' -%}
        truncate {{ target }};
    {%- else -%}
        {#- one IN over a union, not two INs or-ed: the key's index finds each row (an OR of
            two subplans scanned the whole table) -#}
        delete from {{ target }} as previous
        where
            (previous.entity, previous.record_id) in (
                select recomputed.entity, recomputed.record_id from {{ temp }} as recomputed
                union all
                select changed.entity, changed.record_id
                from {{ ref('stg_platform__record_versions') }} as changed
                where
                    changed.loaded_at > {{ change_scope_changed_since(state) }}
                    and not exists (
                        select from (
                            {%- for e in platform_service_entities() %}
                                select '{{ e.entity }}' as entity, kept.record_id
                                from {{ ref('stg_platform__' ~ e.entity) }} as kept
                                {% if not loop.last %}union all{% endif %}
                            {%- endfor %}
                        ) as staged
                        where
                            staged.entity = changed.entity
                            and staged.record_id = changed.record_id
                    )
            );
    {%- endif %}
    {{ get_incremental_append_sql(arg_dict) }}
{%- endmacro %}

{% macro person_scope_persons(state) -%}
    {#- SELECT of the persons whose int_persons row an incremental run recomputes: records
        loaded since the previous build (int_person_changes), or a death registration naming
        one of their EHRs dated after the previous cut-off and on or before this one (it starts
        to count) -#}
    select changes.person_key
    from {{ ref('int_person_changes') }} as changes
    where changes.last_loaded_at > {{ change_scope_changed_since(state) }}
    union
    select crossing_person.person_key
    from {{ ref('stg_platform__deaths') }} as crossing
    inner join {{ ref('int_person_ehr_map') }} as crossing_person
        on crossing.person_record_id = crossing_person.ehr_record_id
    where
        crossing.death_date > date '{{ state["data_cutoff_date"] }}'
        and crossing.death_date <= date '{{ data_cutoff_date() }}'
{%- endmacro %}

{% macro get_incremental_person_scope_sql(arg_dict) -%}
    {#- incremental_strategy 'person_scope' of int_persons (one row per person_key; called
        like get_incremental_record_scope_sql). 'full' (person_scope_mode in the model's SQL,
        change_scope_strategy_state) truncates; else it deletes the persons in scope
        (person_scope_persons: a person left with no EHR has no new row), then inserts the
        temp relation's rows. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set state = change_scope_strategy_state('person_scope') -%}
    {%- if state['mode'] == 'full' -%}
        truncate {{ target }};
    {%- else -%}
        delete from {{ target }} as previous
        where previous.person_key in ({{ person_scope_persons(state) }});
    {%- endif %}
    {{ get_incremental_append_sql(arg_dict) }}
{%- endmacro %}
