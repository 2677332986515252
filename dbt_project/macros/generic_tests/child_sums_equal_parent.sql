{#-
    Hierarchy additivity test: for every parent org unit, the sum of `measure` over its direct
    children equals the parent's own value, within each combination of `group_by` columns
    (e.g. indicator_code, period_key). Fails with one row per mismatching parent.

    The hierarchy comes either from the tested model itself (`parent_column` on each row) or
    from a separate model (`hierarchy_model` with `hierarchy_key` / `hierarchy_parent`).
    Only parents that have a row and at least one direct-child row in the same group are
    compared (missing rows are a completeness question for a separate test); a null group value
    is a group of its own, as in GROUP BY. Null measures count as 0. `tolerance` allows
    rounding differences (e.g. estimated denominators).
-#}
{% test child_sums_equal_parent(model, measure, org_unit_column, parent_column=none,
                                group_by=[], hierarchy_model=none,
                                hierarchy_key='org_unit_code',
                                hierarchy_parent='parent_org_unit_code', tolerance=0) %}

{%- if parent_column is none and hierarchy_model is none -%}
    {{ exceptions.raise_compiler_error(
        "child_sums_equal_parent: give parent_column or hierarchy_model") }}
{%- endif %}

with facts as (
    select
        {% for col in group_by %}{{ col }} as grp_{{ loop.index }},
        {% endfor %}{{ org_unit_column }} as org_unit,
        {{ measure }} as measure_value
    from {{ model }}
),

hierarchy as (
    {%- if hierarchy_model is not none %}
    select distinct
        {{ hierarchy_key }} as org_unit,
        {{ hierarchy_parent }} as parent_org_unit
    from {{ hierarchy_model }}
    {%- else %}
    select distinct
        {{ org_unit_column }} as org_unit,
        {{ parent_column }} as parent_org_unit
    from {{ model }}
    {%- endif %}
),

parents as (
    select distinct
        {% for col in group_by %}f.grp_{{ loop.index }},
        {% endfor %}f.org_unit as parent_org_unit,
        f.measure_value as parent_value
    from facts as f
    where f.org_unit in (
        select h.parent_org_unit from hierarchy as h where h.parent_org_unit is not null
    )
),

child_sums as (
    select
        {% for col in group_by %}f.grp_{{ loop.index }},
        {% endfor %}h.parent_org_unit,
        sum(coalesce(f.measure_value, 0)) as child_sum,
        count(*) as child_rows
    from facts as f
    inner join hierarchy as h on f.org_unit = h.org_unit
    where h.parent_org_unit is not null
    group by {% for col in group_by %}f.grp_{{ loop.index }}, {% endfor %}h.parent_org_unit
),

-- each parent value beside its group's child sum: a window over both, partitioned by the
-- group and the parent (null-safe like `is not distinct from`, which a join could only apply
-- as a filter over every pair of rows of the same parent: 10 M pairs for fct_indicator_values)
paired as (
    select
        {% for col in group_by %}grp_{{ loop.index }},
        {% endfor %}parent_org_unit,
        parent_value,
        null as child_sum,
        null as child_rows,
        true as is_parent
    from parents
    union all
    select
        {% for col in group_by %}grp_{{ loop.index }},
        {% endfor %}parent_org_unit,
        null as parent_value,
        child_sum,
        child_rows,
        false as is_parent
    from child_sums
),

compared as (
    select
        {% for col in group_by %}grp_{{ loop.index }},
        {% endfor %}parent_org_unit,
        parent_value,
        is_parent,
        max(child_sum) over parent_group as child_sum,
        max(child_rows) over parent_group as child_rows
    from paired
    window parent_group as (
        partition by {% for col in group_by %}grp_{{ loop.index }}, {% endfor %}parent_org_unit
    )
)

select
    {% for col in group_by %}grp_{{ loop.index }} as {{ col }},
    {% endfor %}parent_org_unit,
    parent_value,
    child_sum,
    child_rows
from compared
where
    is_parent
    and child_rows is not null
    and abs(coalesce(parent_value, 0) - coalesce(child_sum, 0)) > {{ tolerance }}

{% endtest %}
