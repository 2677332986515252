-- A person's spans in int_records__person_window_spans are runs of consecutive windows: each
-- starts after the previous one ended and none ends before it starts, so that
-- int_records__person_windows gives a person at most one row per window.
with spans as (

    select * from {{ ref('int_records__person_window_spans') }}

),

ordered as (

    select
        person_sk,
        first_period_end,
        last_period_end,
        lag(last_period_end) over (
            partition by person_sk order by first_period_end
        ) as previous_last_period_end
    from spans

)

select * from ordered
where
    last_period_end < first_period_end
    or previous_last_period_end >= first_period_end
