{#-
    GB 11643-1999 citizen identity numbers (18 characters: 6-digit area code, 8-digit birth
    date YYYYMMDD, 3-digit sequence whose last digit is odd for males, check character).
    Pure PostgreSQL expressions, no functions to install. The input is upper-cased and trimmed,
    unless the caller passes normalised=true for a value that already is (each macro refers to
    the value up to twenty times, and PostgreSQL evaluates an expression at every reference).
-#}

{#- Normalised ID expression used by the macros below. -#}
{% macro _gb11643_normalised(id_col, normalised=false) -%}
    {%- if normalised -%}
        ({{ id_col }})
    {%- else -%}
        upper(btrim(({{ id_col }})::text))
    {%- endif -%}
{%- endmacro %}

{#-
    ISO 7064 MOD 11-2 check: sum of digit_i x weight_i (weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2),
    check character = '10X98765432'[sum mod 11]. Returns null for a null input, false for anything
    that is not 17 digits followed by a digit or X, else whether the check character matches.
-#}
{% macro gb11643_check_digit_valid(id_col, normalised=false) -%}
    {%- set v = _gb11643_normalised(id_col, normalised) -%}
    {%- set weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] -%}
    (case
        when ({{ id_col }}) is null then null
        when {{ v }} !~ '^[0-9]{17}[0-9X]$' then false
        else substr(
            '10X98765432',
            (
                {%- for w in weights %}
                (ascii(substr({{ v }}, {{ loop.index }}, 1)) - 48) * {{ w }}
                {%- if not loop.last %} +{% endif %}
                {%- endfor %}
            ) % 11 + 1,
            1
        ) = substr({{ v }}, 18, 1)
    end)
{%- endmacro %}

{#-
    Birth date encoded in characters 7-14 of an 18-character ID; null when the ID is not
    17 digits + digit/X or the encoded date does not exist (e.g. 19490231). Never raises.
-#}
{% macro gb11643_birth_date(id_col, normalised=false) -%}
    {%- set v = _gb11643_normalised(id_col, normalised) -%}
    (case
        when not coalesce({{ v }} ~ '^[0-9]{17}[0-9X]$', false) then null
        when substr({{ v }}, 11, 2)::integer not between 1 and 12 then null
        when substr({{ v }}, 7, 4)::integer < 1800 then null
        when substr({{ v }}, 13, 2)::integer not between 1 and extract(day from (
            make_date(substr({{ v }}, 7, 4)::integer, substr({{ v }}, 11, 2)::integer, 1)
            + interval '1 month - 1 day'
        ))::integer then null
        else make_date(
            substr({{ v }}, 7, 4)::integer,
            substr({{ v }}, 11, 2)::integer,
            substr({{ v }}, 13, 2)::integer
        )
    end)
{%- endmacro %}

{#-
    Sex encoded by the 17th character (odd = male): returns the GB/T 2261.1 code '1' (male) or
    '2' (female); null when the ID is not 17 digits + digit/X.
-#}
{% macro gb11643_sex_code(id_col, normalised=false) -%}
    {%- set v = _gb11643_normalised(id_col, normalised) -%}
    (case
        when not coalesce({{ v }} ~ '^[0-9]{17}[0-9X]$', false) then null
        when substr({{ v }}, 17, 1)::integer % 2 = 1 then '1'
        else '2'
    end)
{%- endmacro %}
