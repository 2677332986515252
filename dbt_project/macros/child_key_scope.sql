{#-
    Incremental tables keyed by child (int_child__health_check_windows): one row per child x
    reported period, where the child is its merged person (child_key = person_key) or, for a
    newborn visited before it had an EHR, the newborn record named by the visits
    (child_key = 'NBV:' || that record id), attributed to the mother's facility. A child's rows
    depend on its own records and person, and on the mothers named by its newborn visits,
    so an incremental run recomputes every row of the children whose keys child_key_scope()
    selects (macros/change_scope.sql gives the persons in scope):
      - the persons in scope themselves (a child's own records or EHR changed);
      - the children of newborn visits naming a mother in scope (her facility may have moved);
      - 'NBV:' || every newborn reference of every version of a newborn visit loaded since the
        previous build (a changed or deleted visit leaves its former child's rows);
      - 'NBV:' || the record id of every EHR version loaded since (an EHR created, deleted or
        corrected under that id turns its newborn visits into or out of an 'NBV:' child).
    Rows per reported period, not per window: reported periods started or gone since make it
    recompute everything, as person_window_state(periods=true) says, as do a cut-off moved
    back and org units loaded (change_scope_state). The rows carry the build columns and the
    mode comment of the person-window tables (person_window_build_columns).
-#}

{% macro child_key_scope_config(indexes=[]) -%}
    {#- config() of a child-keyed model: config(**child_key_scope_config(indexes=[...])),
        with the model's key among `indexes` (its delete finds the scope's rows through it) -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'child_key_scope',
        'on_schema_change': 'fail',
        'indexes': [{'columns': ['inputs_loaded_through', 'data_cutoff_date']}] + indexes,
        'meta': {'tests_scope': {'column': 'built_at', 'kind': 'loaded_after'}},
    }) }}
{%- endmacro %}

{% macro child_key_scope_state() -%}
    {#- the state of a child-keyed model's incremental run (person_window_state, rows per
        reported period) -#}
    {{ return(person_window_state(periods=true)) }}
{%- endmacro %}

{% macro child_key_scope(state) -%}
    {#- SELECT of the child keys whose rows this incremental run recomputes (see above). The raw
        versions it reads were loaded up to this build's inputs (change_scope_loaded_through):
        a load committed while the run goes on is the next run's, so that the model and its
        strategy select the same children. -#}
    {%- set versions = ref('stg_platform__record_versions') -%}
    with scope_persons as materialized (
        {{ person_window_scope_persons(state) }}
    )

    select scope_persons.person_key as child_key
    from scope_persons
    union
    select coalesce(visit.person_key, 'NBV:' || visit.person_record_id)
    from {{ ref('int_service_records') }} as visit
    where
        visit.entity = 'newborn_visits'
        and visit.mother_person_key in (select scope_persons.person_key from scope_persons)
    union
    select 'NBV:' || named.ehr_record_id
    from {{ versions }} as named
    where
        named.entity = 'newborn_visits'
        and named.person_reference = 'person_record_id'
        and named.ehr_record_id is not null
        and named.loaded_at <= {{ change_scope_loaded_through() }}
        -- every version of the visits loaded since, through the raw table's key
        and named.record_id = any(array(
            select changed.record_id
            from {{ versions }} as changed
            where
                changed.entity = 'newborn_visits'
                and changed.loaded_at > {{ change_scope_changed_since(state) }}
                and changed.loaded_at <= {{ change_scope_loaded_through() }}
        ))
    union
    select 'NBV:' || ehr.record_id
    from {{ versions }} as ehr
    where
        ehr.entity = 'residents'
        and ehr.loaded_at > {{ change_scope_changed_since(state) }}
        and ehr.loaded_at <= {{ change_scope_loaded_through() }}
{%- endmacro %}

{% macro get_incremental_child_key_scope_sql(arg_dict) -%}
    {#- incremental_strategy 'child_key_scope' (called like get_incremental_person_window_sql,
        whose mode comment and state it shares): 'full' truncates; else it deletes the rows of
        the children in scope (child_key_scope, through the key's index), then inserts the
        temp relation's rows. unique_key and incremental_predicates are not used. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set state = change_scope_strategy_state('person_window', child_key_scope_state()) -%}
    {%- if state['mode'] == 'full' -%}
        truncate {{ target }};
    {%- else -%}
        delete from {{ target }}
        where child_key = any(array({{ child_key_scope(state) }}));
    {%- endif %}
    {{ get_incremental_append_sql(arg_dict) }}
{%- endmacro %}
