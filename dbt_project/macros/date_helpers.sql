{#- Completed (whole) weeks from from_date to to_date: floor((to - from) days / 7). -#}
{% macro completed_weeks(from_date, to_date) -%}
    floor((({{ to_date }})::date - ({{ from_date }})::date) / 7.0)::integer
{%- endmacro %}

{#-
    Calendar months from the month of start_date to the month of end_date, both counted:
    2024-01-31 .. 2024-12-01 -> 12; same month -> 1; end month before start month -> <= 0.
-#}
{% macro months_between_inclusive(start_date, end_date) -%}
    (
        (extract(year from ({{ end_date }})::date)::integer * 12
            + extract(month from ({{ end_date }})::date)::integer)
        - (extract(year from ({{ start_date }})::date)::integer * 12
            + extract(month from ({{ start_date }})::date)::integer)
        + 1
    )
{%- endmacro %}

{#-
    Start of the assessment year containing the given date, for the start month in
    var('assessment_year_start_month') (default 1 = calendar year).
-#}
{% macro assessment_year_start(date_expr, start_month=none) -%}
    {%- set m = start_month if start_month is not none
        else var('assessment_year_start_month', 1) -%}
    make_date(
        extract(year from ({{ date_expr }})::date)::integer
        - case when extract(month from ({{ date_expr }})::date)::integer < {{ m }} then 1 else 0 end,
        {{ m }},
        1
    )
{%- endmacro %}
