{#-
    Incremental tables keyed by child (int_child__health_check_windows): one row per child x
    reported period, where the child is its merged person (child_key = person_key) or, for a
    newborn visited before it had an EHR, the newborn record named by the visits
    (child_key = 'NBV:' || that record id), attributed to the mother's facility. A child's rows
    depend on its own records and person, and on the mothers named by its newborn visits,
    so an incremental run recomputes every row of the children whose keys child_key_scope()
    selects (macros/change_scope.sql gives the persons in scope):
      - the persons in scope themselves (a child's own records or EHR changed);
      - the children of newborn visits naming a mother in scope (her facility may have moved)
        or a mother EHR with a version loaded since (deleted: no mother any more);
      - 'NBV:' || every newborn reference of every version of a newborn visit loaded since the
        previous build (a changed or deleted visit leaves its former child's rows);
      - 'NBV:' || the record id of every EHR version loaded since (an EHR created, deleted or
        corrected under that id turns its newborn visits into or out of an 'NBV:' child).
    Rows per reported period, not per window: reported periods started or gone since make it
    recompute everything, as person_window_state(periods=true) says, as do a cut-off moved
    back and org units loaded (change_scope_state). The rows carry the build columns and the
    mode comment of the person-window tables (person_window_build_columns). The model selects
    the scope once (it reads raw versions, which a load may change while the run goes on) and
    hands it to the strategy as rows with a null period_key (never stored), so that the
    strategy deletes exactly the children the model recomputed.
-#}

{% macro child_key(person_key, newborn_record_id) -%}
    {#- SQL text: the child a newborn visit or child check counts for, its merged person_key,
        else 'NBV:' || the newborn record id the visit names; with person_key none, the key of
        a newborn without an EHR -#}
    {%- if person_key is none -%}
        'NBV:' || {{ newborn_record_id }}
    {%- else -%}
        coalesce({{ person_key }}, 'NBV:' || {{ newborn_record_id }})
    {%- endif -%}
{%- endmacro %}

{% macro child_key_scope_state() -%}
    {#- the state of a child-keyed model's incremental run (person_window_state, rows per
        reported period) -#}
    {%- if not execute or (this is not none and is_incremental()) -%}
        {#- rendered while dbt parses the model: declares what child_key_scope reads besides
            the change scope's inputs (not in a unit test, whose SQL is the full build's) -#}
        {%- set _ = ref('stg_platform__newborn_visits') -%}
    {%- endif -%}
    {{ return(person_window_state(periods=true)) }}
{%- endmacro %}

{% macro child_key_scope(state) -%}
    {#- SELECT of the child keys whose rows this incremental run recomputes (see above) -#}
    {%- set versions = ref('stg_platform__record_versions') -%}
    with scope_persons as materialized (
        {{ person_window_scope_persons(state) }}
    ),

    -- EHRs with a version loaded since (created, corrected or deleted)
    changed_ehrs as materialized (
        select ehr.record_id
        from {{ versions }} as ehr
        where
            ehr.entity = 'residents'
            and ehr.loaded_at > {{ change_scope_changed_since(state) }}
    )

    select scope_persons.person_key as child_key
    from scope_persons
    union
    -- the children of the newborn visits whose mother is in scope or whose mother's EHR
    -- changed (deleted, its visits name no known mother any more)
    select {{ child_key('visit.person_key', 'visit.person_record_id') }}
    from {{ ref('int_service_records') }} as visit
    inner join {{ ref('stg_platform__newborn_visits') }} as staged
        on visit.record_id = staged.record_id
    where
        visit.entity = 'newborn_visits'
        and (
            visit.mother_person_key in (select scope_persons.person_key from scope_persons)
            or staged.mother_person_record_id in (select changed_ehrs.record_id from changed_ehrs)
        )
    union
    select {{ child_key(none, 'named.ehr_record_id') }}
    from {{ versions }} as named
    where
        named.entity = 'newborn_visits'
        and named.person_reference = 'person_record_id'
        and named.ehr_record_id is not null
        -- every version of the visits loaded since, through the raw table's key
        and named.record_id = any(array(
            select changed.record_id
            from {{ versions }} as changed
            where
                changed.entity = 'newborn_visits'
                and changed.loaded_at > {{ change_scope_changed_since(state) }}
        ))
    union
    select {{ child_key(none, 'changed_ehrs.record_id') }}
    from changed_ehrs
{%- endmacro %}

{% macro get_incremental_child_key_scope_sql(arg_dict) -%}
    {#- incremental_strategy 'child_key_scope' (called like get_incremental_person_window_sql,
        whose mode comment and state it shares): 'full' truncates and inserts the temp
        relation's rows. Else the temp relation holds, besides the recomputed rows, one row per
        child in scope with a null period_key (the scope as the model selected it, in the same
        statement): it deletes those children's rows, through the key's index, and inserts the
        recomputed rows. unique_key and incremental_predicates are not used. -#}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set state = change_scope_strategy_state('person_window', child_key_scope_state()) -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if state['mode'] == 'full' -%}
        truncate {{ target }};
    {%- else -%}
        delete from {{ target }}
        where child_key = any(array(
            select scope.child_key from {{ temp }} as scope where scope.period_key is null
        ));
    {%- endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ temp }} where period_key is not null
{%- endmacro %}
