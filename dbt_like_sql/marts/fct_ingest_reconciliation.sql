{#- One branch per feed of the ingest engine (feeds.md); a feed missing here would show
    superseded = NULL for its deliveries. -#}
{%- set feeds = ['hes_apc', 'hes_ae', 'ambulance', 'social_care', 'dtoc', 'population', 'finance', 'plan'] -%}
{%- set tables = {
    'hes_apc': source('ingest', 'hes_apc'), 'hes_ae': source('ingest', 'hes_ae'),
    'ambulance': source('ingest', 'ambulance'), 'social_care': source('ingest', 'social_care'),
    'dtoc': source('ingest', 'dtoc'), 'population': source('ingest', 'population'),
    'finance': source('ingest', 'finance'), 'plan': source('ingest', 'plan')} -%}
with deliveries as (

    select * from {{ source('ingest', 'deliveries') }}

),

{%- for feed in feeds %}
{{ feed }} as (

    select _delivery, _row_number, _superseded_by from {{ tables[feed] }}

),
{% endfor %}
-- superseded is not in the ledger because it grows as later deliveries arrive: count it now.
-- Distinct _row_number, because population is long form (91 rows share one input row) and the
-- ledger counts input rows.
superseded as (
    {%- for feed in feeds %}

    select '{{ feed }}' as feed, _delivery as delivery, count(distinct _row_number) as superseded
    from {{ feed }}
    where _superseded_by is not null
    group by _delivery
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

feeds_counted as (

    select * from (values {% for feed in feeds %}('{{ feed }}'){% if not loop.last %}, {% endif %}{% endfor %}) as t(feed)

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
