with events as (

    select * from {{ ref('int_social_care__events_classified') }}

),

care_home_services as (

    select * from events
    where is_care_home_service

),

-- the res65 rows of metrics.md: supported service users aged 65+ at the start, in an HWB
candidates as (

    select * from care_home_services
    where is_council_supported_service_user
      and hwb_code is not null
      and age_at_event_start >= 65

),

-- an earlier residential or nursing service (any funding, outcome or client type) still open, or
-- ended no more than 365 days before this start, makes this a move, not a new admission
continued as (

    select distinct candidates.la_code, candidates.event_reference
    from candidates
    inner join care_home_services as earlier
        on earlier.person_id = candidates.person_id
       and earlier.event_start_date < candidates.event_start_date
       and (earlier.event_end_date is null or earlier.event_end_date >= candidates.event_start_date - 365)
       and not (earlier.la_code = candidates.la_code and earlier.event_reference = candidates.event_reference)

),

final as (

    select
        candidates.hwb_code,
        candidates.la_code,
        candidates.event_reference,
        candidates.person_id,
        candidates.event_start_date,
        cast(date_trunc('month', candidates.event_start_date) as date) as admission_month,
        candidates.age_at_event_start
    from candidates
    left join continued
        on continued.la_code = candidates.la_code
       and continued.event_reference = candidates.event_reference
    where continued.event_reference is null

)

select * from final
