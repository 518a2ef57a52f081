{#- Feeds in feeds.md order; the five patient-level feeds first, as on the Data Quality sheet. -#}
{%- set feeds = ['hes_apc', 'hes_ae', 'ambulance', 'social_care', 'dtoc', 'population', 'finance', 'plan'] -%}
with rule_counts as (

    select * from {{ source('ingest', 'rule_counts') }}

),

deliveries as (

    select * from {{ source('ingest', 'deliveries') }}

),

final as (

    select
        rule_counts.feed,
        rule_counts.rule_id,
        min(rule_counts.kind) as kind,
        case rule_counts.feed
            {%- for feed in feeds %}
            when '{{ feed }}' then {{ loop.index }}
            {%- endfor %}
            else 99
        end as feed_order,
        cast(sum(rule_counts.rows) as bigint) as rows,
        count(distinct case when rule_counts.rows > 0 then rule_counts.delivery end) as deliveries
    from rule_counts
    inner join deliveries
        on deliveries.feed = rule_counts.feed
       and deliveries.delivery = rule_counts.delivery
       and deliveries.status = 'loaded'
    group by rule_counts.feed, rule_counts.rule_id
    having sum(rule_counts.rows) > 0

)

select * from final
