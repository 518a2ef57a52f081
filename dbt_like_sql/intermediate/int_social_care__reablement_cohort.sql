with events as (

    select * from {{ ref('int_social_care__events_classified') }}

),

spells as (

    select * from {{ ref('int_hes_apc__spells') }}

),

candidates as (

    select
        *,
        -- cohort quarter = the FY quarter of the discharge (FY quarters are calendar quarters)
        cast(date_trunc('quarter', hospital_discharge_date) as date) as cohort_quarter_start
    from events
    where is_reablement
      and hwb_code is not null
      and hospital_discharge_date is not null
      and age_at_hospital_discharge >= 65

),

-- one per person and cohort quarter: the earliest discharge (ties: lowest Event_Reference); a row
-- without a person_key has a person_id of its own, so it is a person of its own
ranked as (

    select
        *,
        row_number() over (
            partition by hwb_code, cohort_quarter_start, person_id
            order by hospital_discharge_date, event_reference
        ) as person_rank
    from candidates

),

members as (

    select
        hwb_code,
        cohort_quarter_start,
        cast(cohort_quarter_start + interval '3 months' as date) as reported_quarter_start,
        la_code,
        event_reference,
        person_id,
        person_key,
        person_key_source,
        hospital_discharge_date,
        hospital_discharge_date + 91 as status_date
    from ranked
    where person_rank = 1

),

died as (

    select distinct members.la_code, members.event_reference
    from members
    inner join events
        on events.person_id = members.person_id
    where events.date_of_death <= members.status_date

),

in_care_home as (

    select distinct members.la_code, members.event_reference
    from members
    inner join events
        on events.person_id = members.person_id
       and events.is_care_home_service
    where events.event_start_date <= members.status_date
      and (events.event_end_date is null or events.event_end_date >= members.status_date)

),

-- only an NHS-number key links to hospital spells (a council id means nothing to a hospital)
in_hospital as (

    select distinct members.la_code, members.event_reference
    from members
    inner join spells
        on spells.person_key = members.person_key
    where members.person_key_source = 'nhs_number'
      and spells.admidate <= members.status_date
      and (spells.disdate is null or spells.disdate > members.status_date)

),

final as (

    select
        members.hwb_code,
        members.cohort_quarter_start,
        members.reported_quarter_start,
        members.la_code,
        members.event_reference,
        members.person_id,
        members.hospital_discharge_date,
        members.status_date,
        case
            when died.event_reference is not null then 'died'
            when in_care_home.event_reference is not null then 'care_home'
            when in_hospital.event_reference is not null then 'hospital'
            else 'home'
        end as status_91_days,
        coalesce(members.person_key_source, '') <> 'nhs_number' as is_unlinked
    from members
    left join died
        on died.la_code = members.la_code and died.event_reference = members.event_reference
    left join in_care_home
        on in_care_home.la_code = members.la_code and in_care_home.event_reference = members.event_reference
    left join in_hospital
        on in_hospital.la_code = members.la_code and in_hospital.event_reference = members.event_reference

)

select * from final
