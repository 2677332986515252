{#-
    3-character ICD-10 category of a cause-of-death code: upper-cased, blanks and dots removed,
    first three characters ('i10.x' -> 'I10', 'C50.9' -> 'C50'). Compare it with the
    icd10_from / icd10_to bounds of the icd10_cause_ranges seed (between, inclusive).
-#}
{% macro icd10_category(code_col) -%}
    nullif(left(upper(translate(({{ code_col }})::text, '. ', '')), 3), '')
{%- endmacro %}
