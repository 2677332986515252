{#-
    Exclusions and flags of spec §5/§6 counted by facility x month x entity x reason (from
    int_quality__exclusions), for the data-quality figures. facility_code: the facility the
    person is attributed to (int_persons) when the row concerns a person, else the facility
    code the record names (monthly reports), else 'UNKNOWN'; event_month: the month of the
    record's date (null when it has none, e.g. a person without a date).
-#}

with exclusions as (

    select * from {{ ref('int_quality__exclusions') }}

),

persons as (

    select * from {{ ref('int_persons') }}

),

located as (

    select
        x.entity,
        x.record_id,
        x.reason,
        x.exclusion_action,
        coalesce(
            p.attributed_facility_code,
            case when x.entity = 'report_submissions' then x.raw_value end,
            'UNKNOWN'
        ) as facility_code,
        date_trunc('month', x.event_date::timestamp)::date as event_month
    from exclusions as x
    left join persons as p on x.person_key = p.person_key

),

final as (

    select
        concat_ws(
            '|', facility_code, coalesce(to_char(event_month, 'YYYY-MM'), 'none'), entity,
            reason, exclusion_action
        ) as exclusion_summary_key,
        facility_code,
        event_month,
        entity,
        reason,
        exclusion_action,
        count(*) as exclusions,
        count(distinct record_id) as records
    from located
    group by facility_code, event_month, entity, reason, exclusion_action

)

select * from final
