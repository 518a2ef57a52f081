with source as (

    select * from {{ source('ingest', 'population') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        upper(trim(cast(area_code as varchar))) as area_code,
        cast(area_name as varchar) as area_name,
        cast(mid_year as integer) as mid_year,
        cast(age as integer) as age,
        cast(population as double precision) as population,
        _delivery,
        _row_number
    from current_rows

)

select * from final
