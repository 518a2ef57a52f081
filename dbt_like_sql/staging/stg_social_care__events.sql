{#- Code values are kept as delivered apart from trimming (feeds.md spells them in mixed case,
    e.g. `Long Term Support: Residential Care`); models compare them upper-cased. -#}
with source as (

    select * from {{ source('ingest', 'social_care') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        upper(trim(cast(la_code as varchar))) as la_code,
        trim(cast(event_reference as varchar)) as event_reference,
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        nullif(upper(trim(cast(gender as varchar))), '') as gender,
        nullif(upper(trim(cast(lsoa11 as varchar))), '') as lsoa11,
        cast(date_of_death as date) as date_of_death,
        nullif(trim(cast(client_type as varchar)), '') as client_type,
        nullif(trim(cast(event_type as varchar)), '') as event_type,
        cast(event_start_date as date) as event_start_date,
        cast(event_end_date as date) as event_end_date,
        nullif(trim(cast(service_type as varchar)), '') as service_type,
        nullif(trim(cast(service_component as varchar)), '') as service_component,
        nullif(trim(cast(route_of_access as varchar)), '') as route_of_access,
        cast(hospital_discharge_date as date) as hospital_discharge_date,
        nullif(trim(cast(event_outcome as varchar)), '') as event_outcome,
        cast(age_at_event_start as integer) as age_at_event_start,
        cast(age_at_hospital_discharge as integer) as age_at_hospital_discharge,
        _delivery,
        _row_number,
        _warnings
    from current_rows

)

select * from final
