with source as (

    select * from {{ source('reference', 'lsoa_localities') }}

),

final as (

    select
        upper(trim(cast(lsoa11_code as varchar))) as lsoa11_code,
        trim(cast(lsoa11_name as varchar)) as lsoa11_name,
        upper(trim(cast(msoa11_code as varchar))) as msoa11_code,
        trim(cast(msoa11_name as varchar)) as msoa11_name,
        upper(trim(cast(la_code as varchar))) as la_code,
        trim(cast(la_name as varchar)) as la_name,
        nullif(trim(cast(locality_code as varchar)), '') as locality_code,
        nullif(trim(cast(locality_name as varchar)), '') as locality_name
    from source

)

select * from final
