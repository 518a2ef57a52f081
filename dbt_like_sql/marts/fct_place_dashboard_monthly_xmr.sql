{#- The XmR (individuals and moving range) chart of each ALL dashboard measure: the 24 months ending
    with the reported quarter. Months the measure's feed does not cover are kept (so the x axis is
    continuous) but carry no value and take no part in the statistics. -#}
{%- set measures = [
    ('dash_ae_att', 'hes_ae'), ('dash_ed_resp_0_4', 'hes_ae'), ('dash_nel', 'hes_apc'),
    ('dash_nel_resp_0_4', 'hes_apc'), ('dash_readm30', 'hes_apc'), ('dash_dtoc', 'dtoc'),
    ('dash_ch_callout', 'ambulance'), ('dash_ch_convey', 'ambulance'), ('dash_ch_admit', 'hes_apc')] -%}

with quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

covered_months as (

    select * from {{ ref('int_feed_coverage__months') }}

),

monthly as (

    select * from {{ ref('int_place_dashboard__monthly_counts') }}
    where locality_code = 'ALL'

),

measures as (

    select * from (values
        {%- for measure_id, feed in measures %}
        ('{{ measure_id }}', '{{ feed }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as t(measure_id, feed)

),

offsets as (

    select * from (values
        {%- for k in range(24) %}
        ({{ k }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as t(months_back)

),

-- month index arithmetic (year x 12 + month - 1) instead of interval multiplication, which the
-- two warehouses spell differently
window_months as (

    select
        quarters.quarter_start,
        24 - offsets.months_back as month_number,
        cast(extract(year from quarters.quarter_start) as integer) * 12
            + cast(extract(month from quarters.quarter_start) as integer) - 1 + 2 - offsets.months_back as month_index
    from quarters
    cross join offsets

),

dated_months as (

    select
        quarter_start,
        month_number,
        make_date(
            cast(floor(month_index / 12.0) as integer),
            month_index - 12 * cast(floor(month_index / 12.0) as integer) + 1,
            1
        ) as month_start
    from window_months

),

series as (

    select
        hwbs.hwb_code,
        dated_months.quarter_start,
        measures.measure_id,
        measures.feed,
        dated_months.month_number,
        dated_months.month_start,
        covered_months.month_start is not null as is_covered,
        -- a covered month without rows is a real 0; an uncovered month has no value
        case when covered_months.month_start is not null then cast(coalesce(monthly.n, 0) as bigint) end as n
    from hwbs
    cross join dated_months
    cross join measures
    left join covered_months
        on covered_months.feed = measures.feed
       and covered_months.month_start = dated_months.month_start
    left join monthly
        on monthly.hwb_code = hwbs.hwb_code
       and monthly.measure_id = measures.measure_id
       and monthly.month_start = dated_months.month_start

),

-- moving range between consecutive points of the series (uncovered months are skipped)
points as (

    select
        hwb_code,
        quarter_start,
        measure_id,
        month_start,
        n,
        abs(n - lag(n) over (partition by hwb_code, quarter_start, measure_id order by month_start)) as moving_range
    from series
    where n is not null

),

stats as (

    select
        points.*,
        avg(cast(n as double precision)) over (partition by hwb_code, quarter_start, measure_id) as centre,
        avg(cast(moving_range as double precision)) over (partition by hwb_code, quarter_start, measure_id)
            as mean_moving_range
    from points

),

limits as (

    select
        stats.*,
        centre - 2.66 * mean_moving_range as lower_limit,
        centre + 2.66 * mean_moving_range as upper_limit,
        case when n > centre then 1 when n < centre then -1 else 0 end as side
    from stats

),

-- runs on one side of the centre line: gaps and islands over the points in month order
islands as (

    select
        limits.*,
        row_number() over (partition by hwb_code, quarter_start, measure_id order by month_start)
          - row_number() over (partition by hwb_code, quarter_start, measure_id, side order by month_start)
            as island
    from limits

),

runs as (

    select
        islands.*,
        count(*) over (partition by hwb_code, quarter_start, measure_id, side, island) as run_length
    from islands

),

final as (

    select
        series.hwb_code,
        series.quarter_start,
        series.measure_id,
        series.month_start,
        series.month_number,
        series.feed,
        series.is_covered,
        series.n,
        runs.moving_range,
        cast(round(cast(runs.centre as numeric(20, 6)), 2) as double precision) as centre,
        cast(round(cast(runs.lower_limit as numeric(20, 6)), 2) as double precision) as lower_limit,
        cast(round(cast(runs.upper_limit as numeric(20, 6)), 2) as double precision) as upper_limit,
        coalesce(runs.n > runs.upper_limit or runs.n < runs.lower_limit, false) as signal_outside_limits,
        coalesce(runs.side <> 0 and runs.run_length >= 7, false) as signal_run_of_7,
        case
            when runs.n > runs.upper_limit or runs.n < runs.lower_limit
              or (runs.side <> 0 and runs.run_length >= 7) then runs.n
        end as signal_value
    from series
    left join runs
        on runs.hwb_code = series.hwb_code
       and runs.quarter_start = series.quarter_start
       and runs.measure_id = series.measure_id
       and runs.month_start = series.month_start

)

select * from final
