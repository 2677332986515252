{#-
    Services delivered per facility × month × service type, for trend charts. A service counts
    for the facility that delivered it (records with an unknown facility code are listed under
    'UNKNOWN'); services excluded for impossible dates (spec §6) are left out and counted in
    excluded_services.
-#}

with services as (
    select * from {{ ref('int_service_records') }}
),

-- each person's services per facility x month x type first: counting the persons of a
-- group is then a count of rows (a hash aggregate, not count(distinct)'s sort per group)
per_person as (
    select
        coalesce(case when is_known_facility then facility_code end, 'UNKNOWN') as facility_code,
        date_trunc('month', service_date::timestamp)::date as service_month,
        entity as service_type,
        person_key,
        count(*) filter (where not is_excluded) as services,
        count(*) filter (where is_excluded) as excluded_services
    from services
    where service_date is not null
    group by 1, 2, 3, 4
),

monthly as (
    select
        facility_code,
        service_month,
        service_type,
        sum(services) as services,
        sum(excluded_services) as excluded_services,
        count(person_key) filter (where services > 0) as persons_served
    from per_person
    group by 1, 2, 3
),

final as (
    select
        facility_code || '|' || to_char(service_month, 'YYYY-MM') || '|' || service_type
            as service_volume_key,
        facility_code,
        service_month,
        service_type,
        services::bigint as services,
        excluded_services::bigint as excluded_services,
        persons_served::bigint as persons_served
    from monthly
)

select * from final
