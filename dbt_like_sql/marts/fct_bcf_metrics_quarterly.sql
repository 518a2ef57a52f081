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

-- the metrics in scope, the feed each needs, and which way is better
metrics as (

    select * from (values
        ('nea', 'hes_apc', 'lower'),
        ('falls65', 'hes_apc', 'lower'),
        ('dupr', 'hes_apc', 'higher'),
        ('acsc', 'hes_apc', 'lower')
    ) as t(metric_id, feed, direction)

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
        coverage.covers_q,
        coverage.covers_ytd
    from hwbs
    cross join quarters
    cross join metrics
    inner join coverage
        on coverage.feed = metrics.feed
       and coverage.quarter_start = quarters.quarter_start

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

figures as (

    select
        spine.*,
        population.mid_year as population_mid_year,
        case spine.metric_id
            when 'falls65' then population.population_65_plus
            else population.population_all_ages
        end as population_denominator,

        case when spine.metric_id <> 'dupr' and spine.covers_q then cast(summed.count_q as bigint) end as actual_q,
        case when spine.metric_id <> 'dupr' and spine.covers_ytd then cast(summed.count_ytd as bigint) end as actual_ytd,
        case when spine.metric_id = 'dupr' and spine.covers_q then cast(summed.numerator_q as bigint) end as numerator_q,
        case when spine.metric_id = 'dupr' and spine.covers_q then cast(summed.denominator_q as bigint) end as denominator_q,

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

),

unrounded as (

    select
        figures.*,
        100000.0 * actual_q / nullif(population_denominator, 0) as rate_q_unrounded,
        100000.0 * actual_ytd / nullif(population_denominator, 0) as rate_ytd_unrounded,
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
