with source as (

    select * from {{ source('ingest', 'plan') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        upper(trim(cast(hwb_code as varchar))) as hwb_code,
        trim(cast(financial_year as varchar)) as financial_year,
        cast(left(trim(cast(financial_year as varchar)), 4) as integer) as fy_start_year,
        cast(quarter as integer) as fy_quarter,
        lower(trim(cast(metric_id as varchar))) as metric_id,
        cast(target as double precision) as target,
        _delivery,
        _row_number
    from current_rows

)

select * from final
