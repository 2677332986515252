{#-
    Indicator facts: every domain model int_indicator__<domain> states its indicators as facts in
    one long shape (indicator_code, facility_code, period_key, numerator, denominator): for each
    indicator, what one person (or event) x window adds to its numerator and denominator
    (indicator_facts), plus the population-based denominators (population_denominator_facts),
    and sums them with indicator_totals(). The catalogue (seed indicator_catalogue) says how the
    sums become values downstream; adding an indicator is a catalogue row plus its facts.
-#}

{% macro indicator_facts(relation, indicators, where=none, windows=none) -%}
    {#- facts in the long shape from a relation with one row per person (or event) x window
        (columns facility_code, period_key): `indicators` lists (indicator_code, numerator,
        denominator), SQL expressions of what one row adds (e.g. 'is_active_ehr::int', '1',
        'live_births'; '0' adds nothing); rows outside `where` add nothing. Summed per
        facility and window as they are read, in one pass with each distinct expression summed
        once (one row per indicator x facility x window), which indicator_totals() sums
        again. `windows`: the relation of every reporting period (int_reporting_periods) when
        `relation` holds each window once (reporting_windows()): the sums of a window go to
        every period with that window -#}
    {%- set sums = [] -%}
    {%- for indicator in indicators -%}
        {%- for expression in indicator[1:] if expression != '0' and expression not in sums -%}
            {%- do sums.append(expression) -%}
        {%- endfor -%}
    {%- endfor %}
    select
        f.indicator_code,
        s.facility_code,
        {{ 'expanded' if windows else 's' }}.period_key,
        f.numerator,
        f.denominator
    from (
        select
            facility_code,
            period_key
            {%- for expression in sums %},
                sum({{ expression }}) as sum_{{ loop.index }}
            {%- endfor %}
        from {{ relation }}
        {%- if where %}
            where {{ where }}
        {%- endif %}
        group by facility_code, period_key
    ) as s
    {%- if windows %}
        inner join {{ windows }} as computed on s.period_key = computed.period_key
        inner join {{ windows }} as expanded
            on
                computed.window_start = expanded.window_start
                and computed.period_end = expanded.period_end
    {%- endif %}
    cross join lateral (
        values
        {%- for code, numerator, denominator in indicators %}
            {%- set summed = {} %}
            {%- for expression in [numerator, denominator] %}
                {%- do summed.update({loop.index: 's.sum_' ~ (sums.index(expression) + 1)
                    if expression != '0' else '0'}) %}
            {%- endfor %}
            ('{{ code }}', {{ summed[1] }}, {{ summed[2] }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as f (indicator_code, numerator, denominator)
{%- endmacro %}

{% macro indicator_totals(facts) -%}
    {#- one row per indicator_code x facility_code x period_key of the long-shape relation
        `facts`: its summed numerator and denominator (never a rate: higher org levels sum
        these again; a null fact counts as 0); rows whose sums are both 0 are omitted -#}
    select
        indicator_code::text as indicator_code,
        facility_code::text as facility_code,
        period_key::text as period_key,
        coalesce(sum(numerator), 0)::numeric as numerator,
        coalesce(sum(denominator), 0)::numeric as denominator
    from {{ facts }}
    group by indicator_code, facility_code, period_key
    having coalesce(sum(numerator), 0) <> 0 or coalesce(sum(denominator), 0) <> 0
{%- endmacro %}

{% macro period_population(periods='periods', population='population', where=none) -%}
    {#- SELECT of the official population of each facility's catchment township in each
        reporting period's assessment year (see _macros.yml) -#}
    select
        pop.facility_code,
        pr.period_key,
        pr.period_type,
        pr.assessment_year,
        pop.age,
        pop.population
    from {{ periods }} as pr
    inner join {{ population }} as pop on pr.assessment_year = pop.population_year
    where
        pop.facility_code is not null
        {%- if where %}
            and {{ where }}
        {%- endif %}
{%- endmacro %}

{% macro population_denominator_facts(
    indicator_codes, periods='periods', population='population', min_age=none, max_age=none
) -%}
    {#- the official-population denominators of `indicator_codes` as facts: for every reporting
        window the population of each facility's catchment township (period_population) aged
        min_age..max_age in completed years (none: no bound); numerator 0 -#}
    {%- set bounds = [] -%}
    {%- if min_age is not none %}{% do bounds.append('pop.age >= ' ~ min_age) %}{% endif -%}
    {%- if max_age is not none %}{% do bounds.append('pop.age <= ' ~ max_age) %}{% endif -%}
    select
        codes.indicator_code,
        pp.facility_code,
        pp.period_key,
        0 as numerator,
        pp.population as denominator
    from (
        {{ period_population(periods, population, where=bounds | join(' and ')) }}
    ) as pp
    cross join (
        values
        {%- for code in indicator_codes %}
            ('{{ code }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as codes (indicator_code)
{%- endmacro %}
