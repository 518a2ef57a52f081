with source as (

    select * from {{ source('ingest', 'ambulance') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

final as (

    select
        trim(cast(incident_id as varchar)) as incident_id,
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        cast(call_datetime as date) as call_date,
        cast(patient_age as integer) as patient_age,
        nullif(upper(trim(cast(patient_sex as varchar))), '') as patient_sex,
        nullif(upper(trim(cast(incident_lsoa11 as varchar))), '') as incident_lsoa11,
        nullif(upper(trim(cast(location_type as varchar))), '') as location_type,
        nullif(trim(cast(care_home_id as varchar)), '') as care_home_id,
        nullif(upper(trim(cast(category as varchar))), '') as category,
        nullif(upper(trim(cast(outcome as varchar))), '') as outcome,
        nullif(upper(trim(cast(destination_site as varchar))), '') as destination_site,
        _delivery,
        _row_number,
        _warnings
    from current_rows

)

select * from final
