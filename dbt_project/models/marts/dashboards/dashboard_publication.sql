{#-
    The publication stamp every dashboard shows in its header (数据截至, 发布编号, 发布时间): one
    row. dbt writes the data cut-off and the build time; publish() (phwarehouse.quality.publish)
    fills publication_id and published_at in marts_candidate in the transaction that swaps it
    into marts, so the stamp travels with its marts on a rollback. Times are wall-clock times in
    var reporting_timezone (Superset shows a timestamp as stored). No org-unit data: Superset
    puts no row-level-security filter on it.
-#}

select
    cast('{{ data_cutoff_date() }}' as date) as data_cutoff_date,
    cast(null as text) as publication_id,
    cast(null as timestamp without time zone) as published_at,
    cast(now() at time zone '{{ var("reporting_timezone") }}' as timestamp without time zone)
        as built_at,
    cast('{{ var("reporting_timezone") }}' as text) as time_zone
