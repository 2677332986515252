-- Age bands of prevalence_assumptions must not overlap within a condition (each age maps to at
-- most one prevalence) and must satisfy min <= max.
select
    a.condition,
    a.age_band_min,
    a.age_band_max,
    b.age_band_min as other_band_min
from {{ ref('prevalence_assumptions') }} as a
inner join {{ ref('prevalence_assumptions') }} as b
    on
        a.condition = b.condition
        and a.age_band_min < b.age_band_min
        and a.age_band_max >= b.age_band_min
union all
select
    condition,
    age_band_min,
    age_band_max,
    null as other_band_min
from {{ ref('prevalence_assumptions') }}
where age_band_min > age_band_max or prevalence not between 0 and 1
