{% macro managed_patient_windows(cards, periods, persons, keys, where=none) -%}
    {#- SELECT of the chronic-disease registry windows of spec §2 Chronic disease ("managed
        patients"): one row per `keys` (columns of `cards`, person_key among them) x
        period_key of `periods` in which a registry card is in care, i.e. enrolled on or
        before the window end and not withdrawn before the window start, with window_start,
        period_end, the person's person_sk, facility_code (attributed_facility_code),
        birth_date and death_date from `persons`, the earliest enrolment of those cards (enrolled_on),
        is_alive_at_window_start, months_in_care (max(window start, enrolment month) to the
        window end, inclusive) and required_followups (ceil(months_in_care / 3)). `where`: an
        optional further condition on c (the card) and p (the period). -#}
    select
        {%- for key in keys %}
            w.{{ key }},
        {%- endfor %}
        pr.person_sk,
        w.period_key,
        p.window_start,
        p.period_end,
        pr.attributed_facility_code as facility_code,
        w.enrolled_on,
        pr.birth_date,
        pr.death_date,
        pr.death_date is null or pr.death_date >= p.window_start as is_alive_at_window_start,
        m.months_in_care,
        ceil(m.months_in_care / 3.0)::integer as required_followups
    from (
        select
            {%- for key in keys %}
                c.{{ key }},
            {%- endfor %}
            p.period_key,
            min(c.enrolled_on) as enrolled_on
        from {{ cards }} as c
        inner join {{ periods }} as p
            on
                c.enrolled_on <= p.period_end
                and (c.withdrawn_on is null or c.withdrawn_on >= p.window_start)
                {%- if where %}
                    and {{ where }}
                {%- endif %}
        group by
            {%- for key in keys %}
                c.{{ key }},
            {%- endfor %}
            p.period_key
    ) as w
    inner join {{ periods }} as p on w.period_key = p.period_key
    inner join {{ persons }} as pr on w.person_key = pr.person_key
    cross join lateral (
        select
            {{ months_between_inclusive('greatest(p.window_start, w.enrolled_on)', 'p.period_end') }}
            as months_in_care
    ) as m
{%- endmacro %}
