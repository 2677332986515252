{#-
    Rolls facility rows up the org hierarchy by SUMMING their measures (spec §1: never averaging
    rates). `relation` is a CTE or relation with facility_code, township_code and district_code;
    returns org_level, org_unit_code, the `group_by` columns and sum(measure) as measure, for the
    facility, township and district levels.
-#}
{% macro sum_by_org_level(relation, group_by, measures) -%}
    {%- set levels = [('facility', 'facility_code'), ('township', 'township_code'),
                      ('district', 'district_code')] -%}
    {%- for level, code in levels %}
    select
        '{{ level }}' as org_level,
        {{ code }} as org_unit_code,
        {%- for col in group_by %}
        {{ col }},
        {%- endfor %}
        {%- for measure in measures %}
        sum({{ measure }}) as {{ measure }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    group by {{ code }}{% for col in group_by %}, {{ col }}{% endfor %}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
