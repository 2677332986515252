{#-
    numerator / denominator x multiplier as numeric; null when the denominator is 0 or null.
    Arguments are SQL expressions (column names or literals).
-#}
{% macro rate_value(numerator, denominator, multiplier=100) -%}
    ({{ numerator }})::numeric * ({{ multiplier }})
    / nullif(({{ denominator }})::numeric, 0)
{%- endmacro %}
