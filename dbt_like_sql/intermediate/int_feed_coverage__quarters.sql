with covered_months as (

    select * from {{ ref('int_feed_coverage__months') }}

),

quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

feeds as (

    select * from (values ('hes_apc'), ('hes_ae'), ('ambulance'), ('social_care'), ('dtoc')) as t(feed)

),

feed_quarters as (

    select
        feeds.feed,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.fy_start,
        quarters.ytd_months
    from feeds
    cross join quarters

),

counted as (

    select
        fq.feed,
        fq.quarter_start,
        fq.ytd_months,
        count(distinct case when cm.month_start >= fq.quarter_start then cm.month_start end) as months_covered_q,
        count(distinct cm.month_start) as months_covered_ytd
    from feed_quarters as fq
    left join covered_months as cm
        on cm.feed = fq.feed
       and cm.month_start between fq.fy_start and fq.quarter_end
    group by fq.feed, fq.quarter_start, fq.ytd_months

),

final as (

    select
        feed,
        quarter_start,
        months_covered_q,
        months_covered_ytd,
        months_covered_q = 3 as covers_q,
        months_covered_ytd = ytd_months as covers_ytd
    from counted

)

select * from final
