{#- The five patient-level feeds with the column that dates their rows (the coverage date). A
    quarantined row keeps its values as delivered text, so its month is read from that text:
    YYYY-MM-DD..., DD/MM/YYYY or (dtoc) YYYY-MM; anything else has no month. (No LIKE patterns:
    psycopg would read their percent signs as placeholders.) -#}
{%- set feeds = [
    ('hes_apc', 'admidate'), ('hes_ae', 'arrivaldate'), ('ambulance', 'call_datetime'),
    ('social_care', 'event_start_date'), ('dtoc', 'period')] -%}
{%- set valid_tables = {
    'hes_apc': source('ingest', 'hes_apc'), 'hes_ae': source('ingest', 'hes_ae'),
    'ambulance': source('ingest', 'ambulance'), 'social_care': source('ingest', 'social_care'),
    'dtoc': source('ingest', 'dtoc')} -%}
{%- set quarantine_tables = {
    'hes_apc': source('quarantine', 'hes_apc'), 'hes_ae': source('quarantine', 'hes_ae'),
    'ambulance': source('quarantine', 'ambulance'), 'social_care': source('quarantine', 'social_care'),
    'dtoc': source('quarantine', 'dtoc')} -%}
{%- macro month_of_text(col) -%}
case
    when length(trim({{ col }})) >= 7 and substr(trim({{ col }}), 5, 1) = '-'
     and translate(substr(trim({{ col }}), 1, 4), '0123456789', '') = ''
     and substr(trim({{ col }}), 6, 2) in ('01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12')
        then substr(trim({{ col }}), 1, 7)
    when length(trim({{ col }})) >= 10 and substr(trim({{ col }}), 3, 1) = '/' and substr(trim({{ col }}), 6, 1) = '/'
     and translate(substr(trim({{ col }}), 7, 4), '0123456789', '') = ''
     and substr(trim({{ col }}), 4, 2) in ('01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12')
        then substr(trim({{ col }}), 7, 4) || '-' || substr(trim({{ col }}), 4, 2)
end
{%- endmacro -%}

with
{%- for feed, date_col in feeds %}
{{ feed }}_valid as (

    select
        '{{ feed }}' as feed,
        {%- if feed == 'dtoc' %}
        trim(cast(period as varchar)) as month,
        {%- else %}
        substr(cast(cast({{ date_col }} as date) as varchar), 1, 7) as month,
        {%- endif %}
        count(*) as valid_rows,
        sum(case when _warnings is not null and _warnings <> '' then 1 else 0 end) as warning_rows
    from {{ valid_tables[feed] }}
    where _superseded_by is null
    group by 2

),

{{ feed }}_quarantined as (

    select
        '{{ feed }}' as feed,
        {{ month_of_text(date_col) }} as month,
        count(*) as quarantined_rows
    from {{ quarantine_tables[feed] }}
    group by 2

),
{%- endfor %}

valid as (
    {%- for feed, date_col in feeds %}
    select * from {{ feed }}_valid
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

quarantined as (
    {%- for feed, date_col in feeds %}
    select * from {{ feed }}_quarantined
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

keys as (

    select feed, month from valid
    union
    select feed, month from quarantined

),

final as (

    select
        keys.feed,
        keys.month,
        case keys.feed
            {%- for feed, date_col in feeds %}
            when '{{ feed }}' then {{ loop.index }}
            {%- endfor %}
        end as feed_order,
        cast(coalesce(valid.valid_rows, 0) as bigint) as valid_rows,
        cast(coalesce(valid.warning_rows, 0) as bigint) as warning_rows,
        cast(coalesce(quarantined.quarantined_rows, 0) as bigint) as quarantined_rows
    from keys
    left join valid
        on valid.feed = keys.feed
       and valid.month = keys.month
    left join quarantined
        on quarantined.feed = keys.feed
       and (quarantined.month = keys.month or (quarantined.month is null and keys.month is null))

)

select * from final
