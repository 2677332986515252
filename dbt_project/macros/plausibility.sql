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

{#-
    The cleaned blood-pressure columns of a staging model (spec §5/§6): `sbp` and `dbp` are the
    raw readings when plausible, null otherwise, and both null when each is in range but
    SBP ≤ DBP (a swapped pair); `has_plausible_bp` is true for a usable pair.
-#}
{% macro cleaned_blood_pressure(sbp_raw='sbp_raw', dbp_raw='dbp_raw') -%}
    {%- set both_in_range -%}
        {{ is_plausible(sbp_raw, 'sbp') }} and {{ is_plausible(dbp_raw, 'dbp') }}
    {%- endset -%}
    case
        when {{ both_in_range }} and {{ sbp_raw }} <= {{ dbp_raw }} then null
        else {{ plausible_or_null(sbp_raw, 'sbp') }}
    end as sbp,
    case
        when {{ both_in_range }} and {{ sbp_raw }} <= {{ dbp_raw }} then null
        else {{ plausible_or_null(dbp_raw, 'dbp') }}
    end as dbp,
    coalesce({{ both_in_range }} and {{ sbp_raw }} > {{ dbp_raw }}, false) as has_plausible_bp
{%- endmacro %}
