-- Sample inputs for the shared macros (see int_macro_check__results). The unit tests replace
-- these rows with their own fixtures; the rows here keep a live smoke test in the warehouse.
select
    cases.case_id::text as case_id,
    cases.id_number::text as id_number,
    cases.numerator::integer as numerator,
    cases.denominator::integer as denominator,
    cases.from_date::date as from_date,
    cases.to_date::date as to_date,
    cases.icd10_code::text as icd10_code,
    cases.sbp::numeric as sbp
from (
    values
    ('valid_id_x', '11010519491231002X', 3, 4, '2024-01-01', '2024-03-31', 'I10.x', 135),
    ('invalid_id', '110105194912310021', 0, 0, '2024-01-15', '2024-01-21', 'C50.9', 20),
    ('short_id', '11010519491231', null, 10, '2024-02-10', '2024-12-01', null, null)
) as cases (case_id, id_number, numerator, denominator, from_date, to_date, icd10_code, sbp)
