with quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

localities as (

    select * from {{ ref('int_reference__hwb_localities') }}

),

coverage as (

    select * from {{ ref('int_feed_coverage__quarters') }}

),

plan as (

    select * from {{ ref('int_plan__targets_ytd') }}

),

monthly as (

    select * from {{ ref('int_place_dashboard__monthly_counts') }}

),

-- the dashboard measures in scope and the feed each needs
measures as (

    select * from (values
        ('dash_ae_att', 'hes_ae'),
        ('dash_ed_resp_0_4', 'hes_ae'),
        ('dash_nel', 'hes_apc'),
        ('dash_nel_resp_0_4', 'hes_apc'),
        ('dash_readm30', 'hes_apc'),
        ('dash_dtoc', 'dtoc'),
        ('dash_ch_callout', 'ambulance'),
        ('dash_ch_convey', 'ambulance'),
        ('dash_ch_admit', 'hes_apc')
    ) as t(measure_id, feed)

),

spine as (

    select
        localities.hwb_code,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.fy_start,
        quarters.fy_start_year,
        quarters.fy_quarter,
        measures.measure_id,
        localities.locality_code,
        localities.is_all,
        measures.feed,
        coverage.covers_q,
        coverage.covers_ytd
    from localities
    cross join quarters
    cross join measures
    inner join coverage
        on coverage.feed = measures.feed
       and coverage.quarter_start = quarters.quarter_start
    -- delayed transfers are reported by the local authority, so for the whole HWB only
    where measures.measure_id <> 'dash_dtoc' or localities.is_all

),

summed as (

    select
        spine.hwb_code,
        spine.quarter_start,
        spine.measure_id,
        spine.locality_code,
        sum(case when monthly.month_start >= spine.quarter_start then monthly.n else 0 end) as count_q,
        coalesce(sum(monthly.n), 0) as count_ytd
    from spine
    left join monthly
        on monthly.hwb_code = spine.hwb_code
       and monthly.measure_id = spine.measure_id
       and monthly.locality_code = spine.locality_code
       and monthly.month_start between spine.fy_start and spine.quarter_end
    group by spine.hwb_code, spine.quarter_start, spine.measure_id, spine.locality_code

),

figures as (

    select
        spine.*,
        case when spine.covers_q then cast(summed.count_q as bigint) end as actual_q,
        case when spine.covers_ytd then cast(summed.count_ytd as bigint) end as actual_ytd,
        case when spine.is_all then plan.target_q end as target_q,
        case when spine.is_all then plan.target_ytd end as target_ytd
    from spine
    inner join summed
        on summed.hwb_code = spine.hwb_code
       and summed.quarter_start = spine.quarter_start
       and summed.measure_id = spine.measure_id
       and summed.locality_code = spine.locality_code
    left join plan
        on plan.hwb_code = spine.hwb_code
       and plan.metric_id = spine.measure_id
       and plan.fy_start_year = spine.fy_start_year
       and plan.fy_quarter = spine.fy_quarter

),

final as (

    select
        hwb_code,
        quarter_start,
        measure_id,
        locality_code,
        is_all,
        fy_start_year,
        fy_quarter,
        feed,
        covers_q,
        covers_ytd,
        actual_q,
        actual_ytd,
        target_q,
        target_ytd,
        -- RAG on YTD (ALL rows only): an empty actual gives an empty RAG before anything else
        case
            when not is_all then null
            when actual_ytd is null then null
            when target_ytd is null then 'No Target'
            when actual_ytd <= target_ytd then 'G'
            when actual_ytd * 100 <= target_ytd * 105 then 'A'
            else 'R'
        end as rag
    from figures

)

select * from final
