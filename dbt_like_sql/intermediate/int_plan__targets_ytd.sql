with plan as (

    select * from {{ ref('stg_plan__targets') }}

),

final as (

    select
        quarter_plan.hwb_code,
        quarter_plan.metric_id,
        quarter_plan.fy_start_year,
        quarter_plan.fy_quarter,
        quarter_plan.target as target_q,
        -- YTD target = sum of the quarter targets Q1..Qn; empty unless every one of them is planned
        case
            when count(earlier.target) = quarter_plan.fy_quarter then sum(earlier.target)
        end as target_ytd
    from plan as quarter_plan
    inner join plan as earlier
        on earlier.hwb_code = quarter_plan.hwb_code
       and earlier.metric_id = quarter_plan.metric_id
       and earlier.fy_start_year = quarter_plan.fy_start_year
       and earlier.fy_quarter <= quarter_plan.fy_quarter
    group by
        quarter_plan.hwb_code,
        quarter_plan.metric_id,
        quarter_plan.fy_start_year,
        quarter_plan.fy_quarter,
        quarter_plan.target

)

select * from final
