{% macro data_cutoff_date() -%}
    {#- The run's data cut-off (var data_cutoff_date), 'YYYY-MM-DD', for the models' SQL. Read
        as dbt runs the node, not while it parses: the var's default reads the environment
        variable PHW_DATA_CUTOFF_DATE, which the pipeline changes every day, and dbt re-parses
        every file that read a changed environment variable while it was parsed. Parsing renders
        a stand-in date; dbt renders the SQL again, with the run's value, to run it. -#}
    {%- if execute -%}
        {{ return(var('data_cutoff_date')) }}
    {%- endif -%}
    {{ return('1970-01-01') }}
{%- endmacro %}
