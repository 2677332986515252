{{ config(**person_window_config()) }}

{#-
    CH_VACCINATION per window (spec §2 Children): one row per child x scheduled dose x reporting
    period for the doses that are due (int_child__vaccination_due_doses.is_due: alive, record
    not moved out) with a due date in the window [window_start, period_end] (denominator),
    flagged is_received when the child received that dose at any date up to the data cut-off
    (numerator; a dose given after the window end still counts).

    The window is the spec's [window_start, period_end] also for a period that ends after the
    data cut-off (spec §1; reference choice W1): a dose due in December of the current year is
    in that year's denominator, and received only if given by the cut-off. Such windows are
    flagged provisional until their numerators stop growing.

    Deliberate choice: "children with a health record" (spec §2) is evaluated at the window
    end: the child's earliest EHR creation date must be <= period_end.
    A child registered after the window (e.g. a 2026 move-in, or a 2025-12-31 newborn whose
    record was created in January) is not in that window's denominator or numerator, so a
    closed year's value does not change when records are created later (as EHR_FILING's
    "created <= window end").
    Incremental (macros/person_windows.sql, periods=true): a child's rows depend only on its
    due doses and the reported periods, so a run recomputes the persons whose records changed
    or crossed the cut-off, and everyone when reported periods started or left the history.
-#}
{%- set state = person_window_state(periods=true) -%}

with due_doses as (

    select * from {{ ref('int_child__vaccination_due_doses') }}
    where {{ person_window_person_filter(state, 'person_key') }}

),

periods as (

    select * from {{ ref('int_reporting_periods') }}

),

final as (

    select
        d.person_sk,
        d.person_key,
        d.vaccine_code,
        d.dose_number,
        r.period_key,
        d.facility_code,
        d.schedule_version,
        d.due_date,
        d.first_received_on,
        d.is_received,
        {{ person_window_build_columns(state) }}
    from due_doses as d
    inner join periods as r
        on
            d.due_date >= r.window_start
            and d.due_date <= r.period_end
            and d.ehr_created_on <= r.period_end
    where d.is_due
    order by d.person_sk, d.vaccine_code, d.dose_number, r.period_key

)

select * from final
