with lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

final as (

    select
        la_code as hwb_code,
        min(la_name) as hwb_name,
        count(*) as lsoa_count
    from lookup
    group by la_code

)

select * from final
