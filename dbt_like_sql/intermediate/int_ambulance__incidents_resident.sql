with incidents as (

    select * from {{ ref('stg_ambulance__incidents') }}

),

lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

-- an incident belongs to the HWB and locality of the LSOA where it happened
resident as (

    select
        incidents.*,
        lookup.la_code as hwb_code,
        lookup.locality_code,
        cast(date_trunc('month', incidents.call_date) as date) as call_month
    from incidents
    inner join lookup
        on incidents.incident_lsoa11 = lookup.lsoa11_code

),

final as (

    select
        incident_id,
        call_date,
        call_month,
        hwb_code,
        locality_code,
        location_type,
        outcome,
        location_type = 'CARE_HOME' as is_dash_ch_callout,
        location_type = 'CARE_HOME' and outcome in ('CONVEY_ED', 'CONVEY_OTHER') as is_dash_ch_convey
    from resident

)

select * from final
