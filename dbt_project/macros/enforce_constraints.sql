{% macro enforce_constraints() -%}
    {#- post-hook of every model (dbt_project.yml): a table or incremental model without an
        enforced contract gets the constraints its yml declares as PostgreSQL constraints, as
        dbt's DDL gives them to a contract: each not_null column NOT NULL, each check
        (`constraints: [{type: check, expression: ...}]`, on a column or the model) a CHECK
        constraint named after it (declared_check_constraints). One ALTER TABLE reconciles the
        table with its yml: it adds what is missing (PostgreSQL checks every row in one scan)
        and drops what is no longer declared; a table already in step (an incremental table
        after the build that created it) gets no statement (the hook renders nothing). Then
        PostgreSQL checks each row a later run inserts, as it goes in, so no data test node
        re-reads the table in each build. A violation fails the model with PostgreSQL's error (the constraint and the
        row), and what reads it is skipped, as after a failing test. Views and seeds keep
        their data tests. -#}
    {%- set materialized = config.get('materialized') -%}
    {%- set contracted = (model.config.get('contract') or {}).get('enforced') -%}
    {%- set actions = [] -%}
    {%- if execute and materialized in ('table', 'incremental') and not contracted -%}
        {%- set not_null = declared_not_null_columns(model) -%}
        {%- set checks = declared_check_constraints(model) -%}
        {#- a new table holds no constraint: nothing to read when nothing is declared -#}
        {%- if not_null or checks or materialized == 'incremental' -%}
            {%- set relation = (this | string) | replace("'", "''") -%}
            {%- set existing = run_query(
                "select 'not_null', a.attname from pg_attribute as a"
                ~ " where a.attrelid = '" ~ relation ~ "'::regclass and a.attnum > 0"
                ~ " and not a.attisdropped and a.attnotnull"
                ~ " union all select 'check', c.conname from pg_constraint as c"
                ~ " where c.conrelid = '" ~ relation ~ "'::regclass and c.contype = 'c'"
            ).rows -%}
            {%- set has_not_null, has_check = [], [] -%}
            {%- for kind, name in existing -%}
                {%- do (has_not_null if kind == 'not_null' else has_check).append(name) -%}
            {%- endfor -%}
            {%- for column in not_null if column not in has_not_null -%}
                {%- do actions.append('alter column ' ~ adapter.quote(column) ~ ' set not null') -%}
            {%- endfor -%}
            {%- for column in has_not_null if column not in not_null -%}
                {%- set dropped = 'alter column ' ~ adapter.quote(column) ~ ' drop not null' -%}
                {%- do actions.append(dropped) -%}
            {%- endfor -%}
            {%- for name in has_check if name not in checks -%}
                {%- do actions.append('drop constraint ' ~ adapter.quote(name)) -%}
            {%- endfor -%}
            {%- for name, expression in checks.items() if name not in has_check -%}
                {%- do actions.append(
                    'add constraint ' ~ adapter.quote(name) ~ ' check (' ~ expression ~ ')') -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- if actions -%}
        alter table {{ this }}
        {{ actions | join(',\n') }}
    {%- endif -%}
{%- endmacro %}

{% macro declared_check_constraints(node) -%}
    {#- {name: expression} of the check constraints the yml of `node` declares, on its columns
        and on the model. Each is named after its `name`, else its column (or 'check'), and the
        first 8 hex digits of its expression's md5, so that a changed expression is a new
        constraint, which enforce_constraints adds while it drops the old one. -#}
    {%- set checks = {} -%}
    {%- set declared = [] -%}
    {%- for column in node.columns.values() -%}
        {%- for constraint in column.constraints if constraint.type == 'check' -%}
            {%- do declared.append((column.name, constraint)) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for constraint in node.constraints if constraint.type == 'check' -%}
        {%- do declared.append(('check', constraint)) -%}
    {%- endfor -%}
    {%- for prefix, constraint in declared -%}
        {%- set name = (constraint.name or prefix ~ '_check')
            ~ '_' ~ local_md5(constraint.expression)[:8] -%}
        {%- do checks.update({name: constraint.expression}) -%}
    {%- endfor -%}
    {{ return(checks) }}
{%- endmacro %}
