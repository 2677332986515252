{% macro person_sk(person_key) -%}
    {#- bigint surrogate of a person_key (see _macros.yml) -#}
    hashtextextended({{ person_key }}, 0)
{%- endmacro %}
