-- Applies every shared macro to int_macro_check__cases; exercised by unit tests and data tests.
select
    case_id,
    id_number,
    {{ gb11643_check_digit_valid('id_number') }} as id_check_digit_valid,
    {{ gb11643_birth_date('id_number') }} as id_birth_date,
    {{ gb11643_sex_code('id_number') }} as id_sex_code,
    numerator,
    denominator,
    -- float8 only so that the unit test compares 75 with 75 (numeric keeps a display scale)
    ({{ rate_value('numerator', 'denominator', 100) }})::double precision as rate_pct,
    {{ completed_weeks('from_date', 'to_date') }} as completed_weeks,
    {{ months_between_inclusive('from_date', 'to_date') }} as months_inclusive,
    {{ assessment_year_start('to_date', 1) }} as assessment_year_start_jan,
    {{ assessment_year_start('to_date', 10) }} as assessment_year_start_oct,
    icd10_code,
    {{ icd10_category('icd10_code') }} as icd10_category,
    sbp,
    {{ is_plausible('sbp', 'sbp') }} as sbp_is_plausible,
    {{ plausible_or_null('sbp', 'sbp') }} as sbp_plausible
from {{ ref('int_macro_check__cases') }}
