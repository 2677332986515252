-- Every birth date must map to exactly one immunization schedule version: the birth-date
-- ranges of different versions must not overlap, and each version has a single range.
with versions as (
    select
        schedule_version,
        min(valid_for_birth_from) as birth_from,
        max(valid_for_birth_to) as birth_to,
        count(distinct valid_for_birth_from) + count(distinct valid_for_birth_to) as n_bounds
    from {{ ref('immunization_schedule') }}
    group by schedule_version
)

select
    a.schedule_version,
    a.birth_from,
    a.birth_to,
    b.schedule_version as overlapping_version
from versions as a
inner join versions as b
    on
        a.schedule_version < b.schedule_version
        and a.birth_to >= b.birth_from
        and a.birth_from <= b.birth_to
union all
select
    schedule_version,
    birth_from,
    birth_to,
    null as overlapping_version
from versions
where n_bounds <> 2 or birth_from > birth_to
