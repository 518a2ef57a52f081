with first_episodes as (

    select * from {{ ref('int_hes_apc__first_episodes_resident') }}

),

readmissions as (

    select * from {{ ref('int_hes_apc__readmissions_30d') }}

),

attendances as (

    select * from {{ ref('int_hes_ae__attendances_resident') }}

),

incidents as (

    select * from {{ ref('int_ambulance__incidents_resident') }}

),

dtoc as (

    select * from {{ ref('int_dtoc__monthly_days') }}

),

events as (

    select 'dash_ae_att' as measure_id, hwb_code, locality_code, arrival_month as month_start
    from attendances
    where is_dash_ae_att

    union all

    select 'dash_ed_resp_0_4' as measure_id, hwb_code, locality_code, arrival_month as month_start
    from attendances
    where is_dash_ed_resp_0_4

    union all

    select 'dash_nel' as measure_id, hwb_code, locality_code, admission_month as month_start
    from first_episodes
    where is_nea

    union all

    select 'dash_nel_resp_0_4' as measure_id, hwb_code, locality_code, admission_month as month_start
    from first_episodes
    where is_dash_nel_resp_0_4

    union all

    select 'dash_readm30' as measure_id, hwb_code, locality_code, admission_month as month_start
    from readmissions

    union all

    select 'dash_ch_admit' as measure_id, hwb_code, locality_code, admission_month as month_start
    from first_episodes
    where is_dash_ch_admit

    union all

    select 'dash_ch_callout' as measure_id, hwb_code, locality_code, call_month as month_start
    from incidents
    where is_dash_ch_callout

    union all

    select 'dash_ch_convey' as measure_id, hwb_code, locality_code, call_month as month_start
    from incidents
    where is_dash_ch_convey

),

by_locality as (

    select hwb_code, measure_id, locality_code, month_start, count(*) as n
    from events
    where locality_code is not null
    group by hwb_code, measure_id, locality_code, month_start

),

whole_hwb as (

    select hwb_code, measure_id, 'ALL' as locality_code, month_start, count(*) as n
    from events
    group by hwb_code, measure_id, month_start

),

-- dash_dtoc is delayed days (a sum, not a count of rows), for the whole HWB only
dtoc_days as (

    select hwb_code, 'dash_dtoc' as measure_id, 'ALL' as locality_code, month_start, delayed_days as n
    from dtoc

),

final as (

    select * from by_locality
    union all
    select * from whole_hwb
    union all
    select * from dtoc_days

)

select * from final
