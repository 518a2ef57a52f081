with source as (

    select * from {{ source('ingest', 'dtoc') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        trim(cast(period as varchar)) as period,
        cast(period_start as date) as period_start,
        upper(trim(cast(provider_code as varchar))) as provider_code,
        upper(trim(cast(la_code as varchar))) as la_code,
        trim(cast(agency as varchar)) as agency,
        trim(cast(type_of_care as varchar)) as type_of_care,
        trim(cast(reason as varchar)) as reason,
        cast(delayed_days as bigint) as delayed_days,
        _delivery,
        _row_number,
        _warnings
    from current_rows

)

select * from final
