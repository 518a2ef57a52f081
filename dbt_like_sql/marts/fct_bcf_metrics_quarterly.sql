{#- Round half away from zero to 1 dp, once, at the end (exact decimal rounding on both dialects). -#}
{%- macro round1(expr) -%}
cast(round(cast({{ expr }} as numeric(20, 6)), 1) as double precision)
{%- endmacro -%}

with quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

coverage as (

    select * from {{ ref('int_feed_coverage__quarters') }}

),

population as (

    select * from {{ ref('int_population__hwb_mid_year') }}

),

plan as (

    select * from {{ ref('int_plan__targets_ytd') }}

),

monthly as (

    select * from {{ ref('int_bcf_metrics__monthly_counts') }}

),

covered_months as (

    select * from {{ ref('int_feed_coverage__months') }}

),

res65_admissions as (

    select * from {{ ref('int_social_care__res65_admissions') }}

),

reab_cohort as (

    select * from {{ ref('int_social_care__reablement_cohort') }}

),

dtoc_monthly as (

    select * from {{ ref('int_dtoc__monthly_days') }}

),

-- the metrics in scope, the feed each needs, and which way is better
metrics as (

    select * from (values
        ('nea', 'hes_apc', 'lower'),
        ('falls65', 'hes_apc', 'lower'),
        ('dupr', 'hes_apc', 'higher'),
        ('acsc', 'hes_apc', 'lower'),
        ('res65', 'social_care', 'lower'),
        ('reab', 'social_care', 'higher'),
        ('dtoc', 'dtoc', 'lower')
    ) as t(metric_id, feed, direction)

),

-- reab needs social_care over the cohort quarter and the reported quarter (6 months) and
-- hes_apc over the reported quarter (3 months)
reab_coverage as (

    select
        quarters.quarter_start,
        cast(quarters.quarter_start - interval '3 months' as date) as cohort_quarter_start,
        count(distinct case
            when covered_months.feed = 'social_care'
             and covered_months.month_start >= cast(quarters.quarter_start - interval '3 months' as date)
            then covered_months.month_start end) = 6
        and count(distinct case
            when covered_months.feed = 'hes_apc' and covered_months.month_start >= quarters.quarter_start
            then covered_months.month_start end) = 3
            as covers
    from quarters
    left join covered_months
        on covered_months.month_start between cast(quarters.quarter_start - interval '3 months' as date)
                                          and quarters.quarter_end
    group by quarters.quarter_start

),

spine as (

    select
        hwbs.hwb_code,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.fy_start,
        quarters.fy_start_year,
        quarters.fy_quarter,
        metrics.metric_id,
        metrics.feed,
        metrics.direction,
        quarters.quarter_days,
        case when metrics.metric_id = 'reab' then reab_coverage.covers else coverage.covers_q end as covers_q,
        -- reab has no YTD figure: its one coverage test stands for both
        case when metrics.metric_id = 'reab' then reab_coverage.covers else coverage.covers_ytd end as covers_ytd,
        reab_coverage.cohort_quarter_start
    from hwbs
    cross join quarters
    cross join metrics
    inner join coverage
        on coverage.feed = metrics.feed
       and coverage.quarter_start = quarters.quarter_start
    inner join reab_coverage
        on reab_coverage.quarter_start = quarters.quarter_start

),

-- one pass over April..quarter end; months before quarter_start only count towards YTD
summed as (

    select
        spine.hwb_code,
        spine.quarter_start,
        spine.metric_id,
        {%- for component in ['count', 'numerator', 'denominator', 'band_65_69', 'band_70_74', 'band_75_79', 'band_80_84', 'band_85_89', 'band_90_plus'] %}
        sum(case when monthly.component = '{{ component }}' and monthly.month_start >= spine.quarter_start then monthly.n else 0 end)
            as {{ component }}_q,
        {%- endfor %}
        sum(case when monthly.component = 'count' then monthly.n else 0 end) as count_ytd
    from spine
    left join monthly
        on monthly.hwb_code = spine.hwb_code
       and monthly.metric_id = spine.metric_id
       and monthly.month_start between spine.fy_start and spine.quarter_end
    group by spine.hwb_code, spine.quarter_start, spine.metric_id

),

-- res65 counts distinct persons, so quarter and YTD are counted from the admissions themselves
-- (a person admitted in Q1 and again in Q2 counts once in the YTD)
res65_counts as (

    select
        spine.hwb_code,
        spine.quarter_start,
        count(distinct case when res65_admissions.event_start_date >= spine.quarter_start
                            then res65_admissions.person_id end) as count_q,
        count(distinct res65_admissions.person_id) as count_ytd
    from spine
    inner join res65_admissions
        on res65_admissions.hwb_code = spine.hwb_code
       and res65_admissions.event_start_date between spine.fy_start and spine.quarter_end
    where spine.metric_id = 'res65'
    group by spine.hwb_code, spine.quarter_start

),

reab_counts as (

    select
        hwb_code,
        reported_quarter_start as quarter_start,
        count(*) as denominator,
        sum(case when status_91_days = 'home' then 1 else 0 end) as numerator,
        sum(case when is_unlinked then 1 else 0 end) as unlinked
    from reab_cohort
    group by hwb_code, reported_quarter_start

),

dtoc_sums as (

    select
        spine.hwb_code,
        spine.quarter_start,
        sum(case when dtoc_monthly.month_start >= spine.quarter_start then dtoc_monthly.delayed_days else 0 end) as days_q,
        sum(case when dtoc_monthly.month_start >= spine.quarter_start then dtoc_monthly.delayed_days_nhs else 0 end) as days_nhs_q,
        sum(case when dtoc_monthly.month_start >= spine.quarter_start then dtoc_monthly.delayed_days_social_care else 0 end) as days_social_care_q,
        sum(case when dtoc_monthly.month_start >= spine.quarter_start then dtoc_monthly.delayed_days_both else 0 end) as days_both_q,
        sum(dtoc_monthly.delayed_days) as days_ytd
    from spine
    inner join dtoc_monthly
        on dtoc_monthly.hwb_code = spine.hwb_code
       and dtoc_monthly.month_start between spine.fy_start and spine.quarter_end
    where spine.metric_id = 'dtoc'
    group by spine.hwb_code, spine.quarter_start

),

figures as (

    select
        spine.*,
        population.mid_year as population_mid_year,
        case spine.metric_id
            when 'falls65' then population.population_65_plus
            when 'res65' then population.population_65_plus
            when 'dtoc' then population.population_18_plus
            when 'reab' then null
            else population.population_all_ages
        end as population_denominator,

        -- a figure is produced only when its feed covers the months it needs; a covered quarter
        -- without rows is 0 (hence the coalesce after the coverage test)
        case
            when not spine.covers_q then null
            when spine.metric_id in ('nea', 'falls65', 'acsc') then cast(summed.count_q as bigint)
            when spine.metric_id = 'res65' then cast(coalesce(res65_counts.count_q, 0) as bigint)
            when spine.metric_id = 'dtoc' then cast(coalesce(dtoc_sums.days_q, 0) as bigint)
        end as actual_q,
        case
            when not spine.covers_ytd then null
            when spine.metric_id in ('nea', 'falls65', 'acsc') then cast(summed.count_ytd as bigint)
            when spine.metric_id = 'res65' then cast(coalesce(res65_counts.count_ytd, 0) as bigint)
            when spine.metric_id = 'dtoc' then cast(coalesce(dtoc_sums.days_ytd, 0) as bigint)
        end as actual_ytd,
        case
            when not spine.covers_q then null
            when spine.metric_id = 'dupr' then cast(summed.numerator_q as bigint)
            when spine.metric_id = 'reab' then cast(coalesce(reab_counts.numerator, 0) as bigint)
        end as numerator_q,
        case
            when not spine.covers_q then null
            when spine.metric_id = 'dupr' then cast(summed.denominator_q as bigint)
            when spine.metric_id = 'reab' then cast(coalesce(reab_counts.denominator, 0) as bigint)
        end as denominator_q,
        case when spine.metric_id = 'reab' and spine.covers_q then cast(coalesce(reab_counts.unlinked, 0) as bigint) end
            as unlinked_q,
        case when spine.metric_id = 'dtoc' and spine.covers_q then cast(coalesce(dtoc_sums.days_nhs_q, 0) as bigint) end
            as days_nhs_q,
        case when spine.metric_id = 'dtoc' and spine.covers_q then cast(coalesce(dtoc_sums.days_social_care_q, 0) as bigint) end
            as days_social_care_q,
        case when spine.metric_id = 'dtoc' and spine.covers_q then cast(coalesce(dtoc_sums.days_both_q, 0) as bigint) end
            as days_both_q,

        -- falls65 DSR: 100000 x sum_b(w_b x n_b / p_b) / 19500, a band with population 0 adds 0
        case when spine.metric_id = 'falls65' and spine.covers_q and population.hwb_code is not null then
            100000.0 * (
                case when population.population_65_69 > 0 then 5500.0 * summed.band_65_69_q / population.population_65_69 else 0 end
              + case when population.population_70_74 > 0 then 5000.0 * summed.band_70_74_q / population.population_70_74 else 0 end
              + case when population.population_75_79 > 0 then 4000.0 * summed.band_75_79_q / population.population_75_79 else 0 end
              + case when population.population_80_84 > 0 then 2500.0 * summed.band_80_84_q / population.population_80_84 else 0 end
              + case when population.population_85_89 > 0 then 1500.0 * summed.band_85_89_q / population.population_85_89 else 0 end
              + case when population.population_90_plus > 0 then 1000.0 * summed.band_90_plus_q / population.population_90_plus else 0 end
            ) / 19500.0
        end as dsr_q_unrounded,

        plan.target_q as plan_q,
        plan.target_ytd as plan_ytd

    from spine
    inner join summed
        on summed.hwb_code = spine.hwb_code
       and summed.quarter_start = spine.quarter_start
       and summed.metric_id = spine.metric_id
    left join population
        on population.hwb_code = spine.hwb_code
       and population.fy_start_year = spine.fy_start_year
    left join plan
        on plan.hwb_code = spine.hwb_code
       and plan.metric_id = spine.metric_id
       and plan.fy_start_year = spine.fy_start_year
       and plan.fy_quarter = spine.fy_quarter
    left join res65_counts
        on res65_counts.hwb_code = spine.hwb_code
       and res65_counts.quarter_start = spine.quarter_start
       and spine.metric_id = 'res65'
    left join reab_counts
        on reab_counts.hwb_code = spine.hwb_code
       and reab_counts.quarter_start = spine.quarter_start
       and spine.metric_id = 'reab'
    left join dtoc_sums
        on dtoc_sums.hwb_code = spine.hwb_code
       and dtoc_sums.quarter_start = spine.quarter_start
       and spine.metric_id = 'dtoc'

),

unrounded as (

    select
        figures.*,
        case when extract(month from cohort_quarter_start) >= 4
             then cast(extract(year from cohort_quarter_start) as integer)
             else cast(extract(year from cohort_quarter_start) as integer) - 1
        end as cohort_fy_start_year,
        case
            when extract(month from cohort_quarter_start) between 4 and 6 then 1
            when extract(month from cohort_quarter_start) between 7 and 9 then 2
            when extract(month from cohort_quarter_start) between 10 and 12 then 3
            else 4
        end as cohort_fy_quarter,
        -- res65 has a YTD rate only; dtoc's rate is per day of the quarter per 100,000 adults
        case
            when metric_id = 'res65' then null
            when metric_id = 'dtoc' then 100000.0 * actual_q / quarter_days / nullif(population_denominator, 0)
            else 100000.0 * actual_q / nullif(population_denominator, 0)
        end as rate_q_unrounded,
        case
            when metric_id = 'dtoc' then null
            else 100000.0 * actual_ytd / nullif(population_denominator, 0)
        end as rate_ytd_unrounded,
        100.0 * numerator_q / nullif(denominator_q, 0) as pct_q_unrounded
    from figures

),

final as (

    select
        hwb_code,
        quarter_start,
        metric_id,
        quarter_end,
        fy_start_year,
        fy_quarter,
        feed,
        direction,
        covers_q,
        covers_ytd,
        actual_q,
        actual_ytd,
        numerator_q,
        denominator_q,
        unlinked_q,
        days_nhs_q,
        days_social_care_q,
        days_both_q,
        case when metric_id = 'reab' then cohort_quarter_start end as cohort_quarter_start,
        -- REAB_COHORT_QUARTER is formatted like REPORTING_QUARTER (`2018-19 Q2`)
        case when metric_id = 'reab' then
            cast(cohort_fy_start_year as varchar) || '-' || right(cast(cohort_fy_start_year + 1 as varchar), 2)
            || ' Q' || cast(cohort_fy_quarter as varchar)
        end as cohort_quarter_label,
        {{ round1('pct_q_unrounded') }} as pct_q,
        {{ round1('rate_q_unrounded') }} as rate_q,
        {{ round1('rate_ytd_unrounded') }} as rate_ytd,
        {{ round1('dsr_q_unrounded') }} as dsr_q,
        population_mid_year,
        population_denominator,
        plan_q,
        plan_ytd,
        case
            when direction = 'higher' then
                case
                    when pct_q_unrounded is null or plan_q is null then 'Data not available to assess progress'
                    when pct_q_unrounded >= plan_q then 'On track to meet target'
                    else 'Not on track to meet target'
                end
            else
                case
                    when actual_ytd is null or plan_ytd is null then 'Data not available to assess progress'
                    when actual_ytd <= plan_ytd then 'On track to meet target'
                    else 'Not on track to meet target'
                end
        end as assessment
    from unrounded

)

select * from final
