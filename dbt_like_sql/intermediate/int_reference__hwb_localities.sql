with lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

localities as (

    select
        la_code as hwb_code,
        locality_code,
        min(locality_name) as locality_name,
        false as is_all
    from lookup
    where locality_code is not null
    group by la_code, locality_code

),

whole_hwb as (

    select
        hwb_code,
        'ALL' as locality_code,
        hwb_name as locality_name,
        true as is_all
    from hwbs

),

final as (

    select * from localities
    union all
    select * from whole_hwb

)

select * from final
