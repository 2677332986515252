{#-
    Quarantined rows by entity x reason x day (the day in the commission's time zone), from
    the ingestion's quarantine: what never reached the warehouse, and why.
-#}

with quarantine as (

    select * from {{ ref('stg_ingestion__quarantine') }}

),

final as (

    select
        concat_ws('|', entity, ingestion_source, reason, to_char(received_on, 'YYYY-MM-DD'))
            as quarantine_summary_key,
        entity,
        ingestion_source,
        reason,
        reason_kind,
        reason_field,
        received_on,
        count(*) as quarantined_rows
    from quarantine
    group by entity, ingestion_source, reason, reason_kind, reason_field, received_on

)

select * from final
