{#-
    Model-level test: fails for every row whose numerator exceeds its denominator.
    Rows with a null numerator or denominator are not checked. With
    only_within_denominator=true the model must have an indicator_code column and only the
    indicators whose numerator is a subset of the denominator are checked (the
    numerator_within_denominator flag of the indicator_catalogue seed, declared there once).
    A model that carries the flag itself can use the standard `where` config instead, e.g.
    where: "numerator_within_denominator".
-#}
{% test numerator_le_denominator(model, numerator_column='numerator',
                                 denominator_column='denominator',
                                 only_within_denominator=false) %}

with checked as (
    -- a CTE: with a `where` config dbt passes the model as an aliased subquery
    select * from {{ model }}
)

select checked.*
from checked
{%- if only_within_denominator %}
    inner join {{ ref('indicator_catalogue') }} as catalogue
        on
            checked.indicator_code = catalogue.indicator_code
            and catalogue.numerator_within_denominator
{%- endif %}
where checked.{{ numerator_column }} > checked.{{ denominator_column }}

{% endtest %}
