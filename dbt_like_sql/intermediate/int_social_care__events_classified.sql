{#- Codes compared upper-cased: feeds.md spells them in mixed case and a council may not. -#}
with events as (

    select * from {{ ref('stg_social_care__events') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

final as (

    select
        events.la_code,
        events.event_reference,
        -- every row is somebody: a row without a person_key stands for a person of its own
        coalesce(events.person_key, 'event:' || events.la_code || ':' || events.event_reference) as person_id,
        events.person_key,
        events.person_key_source,
        -- the council responsible decides the HWB (metrics.md, Residence); NULL outside the lookup
        hwbs.hwb_code,
        -- the locality of the LSOA, where it maps into the same HWB
        case when lookup.la_code = events.la_code then lookup.locality_code end as locality_code,
        events.date_of_death,
        events.client_type,
        events.event_type,
        events.event_start_date,
        events.event_end_date,
        events.service_type,
        events.service_component,
        events.hospital_discharge_date,
        events.event_outcome,
        events.age_at_event_start,
        events.age_at_hospital_discharge,

        upper(events.event_type) = 'SERVICE'
            and upper(coalesce(events.service_type, '')) in (
                'LONG TERM SUPPORT: RESIDENTIAL CARE', 'LONG TERM SUPPORT: NURSING CARE')
            as is_care_home_service,

        upper(events.client_type) = 'SERVICE USER'
            and upper(coalesce(events.event_outcome, '')) <> 'NFA - SELF-FUNDED'
            as is_council_supported_service_user,

        upper(events.event_type) = 'SERVICE'
            and upper(coalesce(events.service_type, '')) = 'SHORT TERM SUPPORT: ST-MAX'
            and upper(coalesce(events.service_component, '')) = 'REABLEMENT'
            as is_reablement

    from events
    left join hwbs
        on hwbs.hwb_code = events.la_code
    left join lookup
        on lookup.lsoa11_code = events.lsoa11

)

select * from final
