-- A tiny org hierarchy (district D -> townships T1, T2 -> facility F1 under T1) for the
-- child_sums_equal_parent test. measure_ok is additive; measure_bad breaks it at T1 only, in
-- the EHR_USAGE group and in the null group (compared as a group of its own).
select
    org.indicator_code::text as indicator_code,
    org.org_unit_code::text as org_unit_code,
    org.parent_org_unit_code::text as parent_org_unit_code,
    org.measure_ok::integer as measure_ok,
    org.measure_bad::integer as measure_bad
from (
    values
    ('EHR_USAGE', 'D', null, 10, 10),
    ('EHR_USAGE', 'T1', 'D', 4, 4),
    ('EHR_USAGE', 'T2', 'D', 6, 6),
    ('EHR_USAGE', 'F1', 'T1', 4, 3),
    ('EHR_FILING', 'D', null, 7, 7),
    ('EHR_FILING', 'T1', 'D', 7, 7),
    (null, 'D', null, 5, 5),
    (null, 'T1', 'D', 5, 5),
    (null, 'F1', 'T1', 5, 4)
) as org (indicator_code, org_unit_code, parent_org_unit_code, measure_ok, measure_bad)
