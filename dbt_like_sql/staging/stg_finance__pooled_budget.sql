with source as (

    select * from {{ source('ingest', 'finance') }}

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
        trim(cast(scheme_id as varchar)) as scheme_id,
        trim(cast(scheme_name as varchar)) as scheme_name,
        upper(trim(cast(line_type as varchar))) as line_type,
        upper(trim(cast(funding_source as varchar))) as funding_source,
        cast(plan_amount as double precision) as plan_amount,
        cast(actual_amount as double precision) as actual_amount,
        _delivery,
        _row_number
    from current_rows

)

select * from final
