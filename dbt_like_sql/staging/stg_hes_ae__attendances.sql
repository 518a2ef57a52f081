with source as (

    select * from {{ source('ingest', 'hes_ae') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        trim(cast(aekey as varchar)) as aekey,
        upper(trim(cast(procode3 as varchar))) as procode3,
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        cast(arrivaldate as date) as arrivaldate,
        cast(arrivaltime as varchar) as arrivaltime,
        cast(arrivalage as integer) as arrivalage,
        nullif(upper(trim(cast(sex as varchar))), '') as sex,
        nullif(upper(trim(cast(lsoa11 as varchar))), '') as lsoa11,
        nullif(upper(trim(cast(gpprac as varchar))), '') as gpprac,
        nullif(upper(trim(cast(aeattendcat as varchar))), '') as aeattendcat,
        nullif(upper(trim(cast(aearrivalmode as varchar))), '') as aearrivalmode,
        nullif(upper(trim(cast(aedepttype as varchar))), '') as aedepttype,
        nullif(upper(trim(cast(aeattenddisp as varchar))), '') as aeattenddisp,
        case when upper(trim(cast(diag2_01 as varchar))) in ('', '-') then null else upper(trim(cast(diag2_01 as varchar))) end as diag2_01,
        case when upper(trim(cast(diag3_01 as varchar))) in ('', '-') then null else upper(trim(cast(diag3_01 as varchar))) end as diag3_01,
        _delivery,
        _row_number,
        _warnings
    from current_rows

)

select * from final
