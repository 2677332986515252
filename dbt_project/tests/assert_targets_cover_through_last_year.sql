-- Each indicator with a target has one row for every year from its first target year up to at
-- least var('last_year') with no gaps (carried forward where there is no explicit target,
-- spec §3), and the first row of each indicator is an explicit target.
with bounds as (
    select
        indicator_code,
        min(year) as first_year,
        max(year) as last_year,
        count(*) as n_rows
    from {{ ref('indicator_targets') }}
    group by indicator_code
)

select
    b.indicator_code,
    b.first_year,
    b.last_year,
    b.n_rows
from bounds as b
inner join {{ ref('indicator_targets') }} as t
    on b.indicator_code = t.indicator_code and b.first_year = t.year
where
    b.n_rows <> b.last_year - b.first_year + 1
    or b.last_year < {{ var('last_year', 2027) }}
    or t.carried_forward
