with dtoc as (

    select * from {{ ref('stg_dtoc__delayed_days') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

final as (

    select
        hwbs.hwb_code,
        dtoc.period_start as month_start,
        sum(dtoc.delayed_days) as delayed_days,
        sum(case when upper(dtoc.agency) = 'NHS' then dtoc.delayed_days else 0 end) as delayed_days_nhs,
        sum(case when upper(dtoc.agency) = 'SOCIAL CARE' then dtoc.delayed_days else 0 end) as delayed_days_social_care,
        sum(case when upper(dtoc.agency) = 'BOTH' then dtoc.delayed_days else 0 end) as delayed_days_both
    from dtoc
    inner join hwbs
        on hwbs.hwb_code = dtoc.la_code
    group by hwbs.hwb_code, dtoc.period_start

)

select * from final
