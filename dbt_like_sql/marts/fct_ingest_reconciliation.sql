{#- One branch per feed whose ingest table the models read; add ambulance, social_care, dtoc and
    finance here as their feeds arrive (their deliveries show superseded = NULL until then). -#}
with deliveries as (

    select * from {{ source('ingest', 'deliveries') }}

),

hes_apc as (

    select _delivery, _row_number, _superseded_by from {{ source('ingest', 'hes_apc') }}

),

hes_ae as (

    select _delivery, _row_number, _superseded_by from {{ source('ingest', 'hes_ae') }}

),

population as (

    select _delivery, _row_number, _superseded_by from {{ source('ingest', 'population') }}

),

plan as (

    select _delivery, _row_number, _superseded_by from {{ source('ingest', 'plan') }}

),

-- superseded is not in the ledger because it grows as later deliveries arrive: count it now.
-- Distinct _row_number, because population is long form (91 rows share one input row) and the
-- ledger counts input rows.
superseded as (

    select 'hes_apc' as feed, _delivery as delivery, count(distinct _row_number) as superseded
    from hes_apc
    where _superseded_by is not null
    group by _delivery

    union all

    select 'hes_ae' as feed, _delivery as delivery, count(distinct _row_number) as superseded
    from hes_ae
    where _superseded_by is not null
    group by _delivery

    union all

    select 'population' as feed, _delivery as delivery, count(distinct _row_number) as superseded
    from population
    where _superseded_by is not null
    group by _delivery

    union all

    select 'plan' as feed, _delivery as delivery, count(distinct _row_number) as superseded
    from plan
    where _superseded_by is not null
    group by _delivery

),

feeds_counted as (

    select * from (values ('hes_apc'), ('hes_ae'), ('population'), ('plan')) as t(feed)

),

final as (

    select
        deliveries.feed,
        deliveries.delivery,
        deliveries.status,
        deliveries.reason,
        deliveries.sha256,
        cast(deliveries.run_date as date) as run_date,
        deliveries.loaded_at,
        -- a rejected delivery loads nothing and its rows count nowhere (feeds.md)
        case when deliveries.status = 'loaded' then cast(deliveries.rows_in as bigint) else 0 end as rows_in,
        case when deliveries.status = 'loaded' then cast(deliveries.valid as bigint) else 0 end as valid_at_load,
        -- valid now = valid at load time minus the rows later deliveries have superseded since
        case
            when deliveries.status <> 'loaded' then 0
            when feeds_counted.feed is null then null
            else cast(deliveries.valid - coalesce(superseded.superseded, 0) as bigint)
        end as valid,
        case when deliveries.status = 'loaded' then cast(deliveries.quarantined as bigint) else 0 end as quarantined,
        case
            when deliveries.status <> 'loaded' then 0
            when feeds_counted.feed is null then null
            else cast(coalesce(superseded.superseded, 0) as bigint)
        end as superseded,
        case when deliveries.status = 'loaded' then cast(deliveries.warning_rows as bigint) else 0 end as warning_rows
    from deliveries
    left join superseded
        on superseded.feed = deliveries.feed
       and superseded.delivery = deliveries.delivery
    left join feeds_counted
        on feeds_counted.feed = deliveries.feed

)

select * from final
