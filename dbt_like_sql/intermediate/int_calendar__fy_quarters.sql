with covered_months as (

    select * from {{ ref('int_feed_coverage__months') }}

),

months as (

    select distinct
        month_start,
        cast(extract(year from month_start) as integer) as calendar_year,
        cast(extract(month from month_start) as integer) as calendar_month
    from covered_months

),

fy_months as (

    select
        month_start,
        case when calendar_month >= 4 then calendar_year else calendar_year - 1 end as fy_start_year,
        case
            when calendar_month between 4 and 6 then 1
            when calendar_month between 7 and 9 then 2
            when calendar_month between 10 and 12 then 3
            else 4
        end as fy_quarter
    from months

),

quarters as (

    select distinct fy_start_year, fy_quarter
    from fy_months

),

dated as (

    select
        fy_start_year,
        fy_quarter,
        make_date(
            case when fy_quarter = 4 then fy_start_year + 1 else fy_start_year end,
            case fy_quarter when 1 then 4 when 2 then 7 when 3 then 10 else 1 end,
            1
        ) as quarter_start,
        make_date(fy_start_year, 4, 1) as fy_start
    from quarters

),

final as (

    select
        quarter_start,
        cast(quarter_start + interval '3 months' as date) - 1 as quarter_end,
        fy_start,
        fy_start_year,
        fy_quarter,
        cast(fy_start_year as varchar) || '-' || right(cast(fy_start_year + 1 as varchar), 2) as fy_label,
        cast(fy_start_year as varchar) || '-' || right(cast(fy_start_year + 1 as varchar), 2)
            || ' Q' || cast(fy_quarter as varchar) as quarter_label,
        3 * fy_quarter as ytd_months,
        (cast(quarter_start + interval '3 months' as date) - quarter_start) as quarter_days
    from dated

)

select * from final
