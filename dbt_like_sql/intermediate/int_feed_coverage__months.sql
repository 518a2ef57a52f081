{#- One branch per activity feed, each dated by its own row date. -#}
with hes_apc as (

    select * from {{ ref('stg_hes_apc__episodes') }}

),

hes_ae as (

    select * from {{ ref('stg_hes_ae__attendances') }}

),

ambulance as (

    select * from {{ ref('stg_ambulance__incidents') }}

),

social_care as (

    select * from {{ ref('stg_social_care__events') }}

),

dtoc as (

    select * from {{ ref('stg_dtoc__delayed_days') }}

),

covered as (

    select
        'hes_apc' as feed,
        cast(date_trunc('month', admidate) as date) as month_start,
        count(*) as valid_rows
    from hes_apc
    group by cast(date_trunc('month', admidate) as date)

    union all

    select
        'hes_ae' as feed,
        cast(date_trunc('month', arrivaldate) as date) as month_start,
        count(*) as valid_rows
    from hes_ae
    group by cast(date_trunc('month', arrivaldate) as date)

    union all

    select
        'ambulance' as feed,
        cast(date_trunc('month', call_date) as date) as month_start,
        count(*) as valid_rows
    from ambulance
    group by cast(date_trunc('month', call_date) as date)

    union all

    select
        'social_care' as feed,
        cast(date_trunc('month', event_start_date) as date) as month_start,
        count(*) as valid_rows
    from social_care
    group by cast(date_trunc('month', event_start_date) as date)

    union all

    -- a month reported with zero delayed days still covers it: it is a row of the return
    select
        'dtoc' as feed,
        period_start as month_start,
        count(*) as valid_rows
    from dtoc
    group by period_start

)

select * from covered
