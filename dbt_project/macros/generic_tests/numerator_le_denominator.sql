{#-
    Model-level test: fails for every row whose numerator exceeds its denominator.
    Rows with a null numerator or denominator are not checked. Restrict it to indicators whose
    numerator is a subset of the denominator with the standard `where` config, e.g.
    where: "numerator_within_denominator" (flag from the indicator_catalogue seed).
-#}
{% test numerator_le_denominator(model, numerator_column='numerator',
                                 denominator_column='denominator') %}

select *
from {{ model }}
where {{ numerator_column }} > {{ denominator_column }}

{% endtest %}
