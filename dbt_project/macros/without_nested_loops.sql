{% macro without_nested_loops() -%}
    {#- pre-hook of a model whose joins the planner misjudges: `set local enable_nestloop = off`
        for the model's statements (dbt's transaction; `set local` ends with it). A CTE or a
        filtered read estimated at a few rows makes PostgreSQL join it in a nested loop,
        which with an index on the other side (the staging tables' keys) re-reads that side
        once per outer row: quadratic where the estimate was wrong. Hash joins instead, for
        that model only; each model says what it measured. -#}
    set local enable_nestloop = off
{%- endmacro %}
