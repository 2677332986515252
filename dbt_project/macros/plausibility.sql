{#-
    Plausibility ranges of spec §5, from the plausible_<measure>_min / _max vars in
    dbt_project.yml. measure is one of: sbp, dbp, fbg, height_cm, weight_kg, birth_weight_g,
    gestational_week.
-#}
{% macro _plausible_bounds(measure) -%}
    {%- set known = ['sbp', 'dbp', 'fbg', 'height_cm', 'weight_kg', 'birth_weight_g',
                     'gestational_week'] -%}
    {%- if measure not in known -%}
        {{ exceptions.raise_compiler_error(
            "unknown plausibility measure '" ~ measure ~ "'; expected one of " ~ known | join(', ')) }}
    {%- endif -%}
    {{ return([var('plausible_' ~ measure ~ '_min'), var('plausible_' ~ measure ~ '_max')]) }}
{%- endmacro %}

{#- True when expr lies in the plausible range (inclusive), false outside, null when null. -#}
{% macro is_plausible(expr, measure) -%}
    {%- set bounds = _plausible_bounds(measure) -%}
    (({{ expr }}) between {{ bounds[0] }} and {{ bounds[1] }})
{%- endmacro %}

{#- expr when plausible, else null (spec §6: an implausible measurement is treated as missing). -#}
{% macro plausible_or_null(expr, measure) -%}
    (case when {{ is_plausible(expr, measure) }} then ({{ expr }}) end)
{%- endmacro %}
