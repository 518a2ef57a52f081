{#- Money keeps 2 decimal places: summed from unrounded amounts, rounded once, half away from zero. -#}
{%- macro round2(expr) -%}
cast(round(cast({{ expr }} as numeric(20, 6)), 2) as double precision)
{%- endmacro -%}

with quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

finance as (

    select * from {{ ref('stg_finance__pooled_budget') }}

),

line_types as (

    select * from (values ('INCOME'), ('EXPENDITURE')) as t(line_type)

),

funding_sources as (

    select * from (values
        ('ALL'), ('CCG_MINIMUM'), ('DFG'), ('IBCF'), ('ADDITIONAL_LA'), ('ADDITIONAL_CCG')
    ) as t(funding_source)

),

-- INCOME and EXPENDITURE in total (ALL); income also by funding source
spine as (

    select
        hwbs.hwb_code,
        quarters.quarter_start,
        quarters.fy_start_year,
        quarters.fy_quarter,
        line_types.line_type,
        funding_sources.funding_source
    from hwbs
    cross join quarters
    cross join line_types
    cross join funding_sources
    where funding_sources.funding_source = 'ALL' or line_types.line_type = 'INCOME'

),

summed as (

    select
        spine.hwb_code,
        spine.quarter_start,
        spine.line_type,
        spine.funding_source,
        count(finance.fy_quarter) as line_rows,
        sum(finance.plan_amount) as plan_fy,
        sum(case when finance.fy_quarter <= spine.fy_quarter then finance.actual_amount end) as actual_ytd_sum,
        sum(case when finance.fy_quarter <= spine.fy_quarter and finance.actual_amount is null then 1 else 0 end)
            as actual_missing_ytd,
        count(distinct case when finance.fy_quarter <= spine.fy_quarter then finance.fy_quarter end) as quarters_ytd
    from spine
    left join finance
        on finance.hwb_code = spine.hwb_code
       and finance.fy_start_year = spine.fy_start_year
       and finance.line_type = spine.line_type
       and (spine.funding_source = 'ALL' or finance.funding_source = spine.funding_source)
    group by spine.hwb_code, spine.quarter_start, spine.line_type, spine.funding_source

),

-- whether the HWB has any finance line of this type for the FY (a funding source with no line
-- then plans 0; an HWB with no lines at all has no figures)
has_lines as (

    select hwb_code, quarter_start, line_type, line_rows as lines_of_type
    from summed
    where funding_source = 'ALL'

),

final as (

    select
        summed.hwb_code,
        summed.quarter_start,
        summed.line_type,
        summed.funding_source,
        summed.line_rows,
        case when has_lines.lines_of_type > 0 then {{ round2('coalesce(summed.plan_fy, 0)') }} end as plan_fy,
        -- YTD actual: every quarter 1..n needs lines of the type, and no line an empty actual
        case
            when summed.funding_source <> 'ALL' then null
            when summed.quarters_ytd < fy_quarter.n or summed.actual_missing_ytd > 0 then null
            else {{ round2('summed.actual_ytd_sum') }}
        end as actual_ytd
    from summed
    inner join has_lines
        on has_lines.hwb_code = summed.hwb_code
       and has_lines.quarter_start = summed.quarter_start
       and has_lines.line_type = summed.line_type
    inner join (select quarter_start, fy_quarter as n from quarters) as fy_quarter
        on fy_quarter.quarter_start = summed.quarter_start

)

select * from final
