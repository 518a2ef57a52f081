{#- One branch per activity feed; add ambulance, social_care and dtoc here as they arrive. -#}
with hes_apc as (

    select * from {{ ref('stg_hes_apc__episodes') }}

),

hes_ae as (

    select * from {{ ref('stg_hes_ae__attendances') }}

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

)

select * from covered
