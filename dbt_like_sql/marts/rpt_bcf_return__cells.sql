{#- The Metrics sheet's names: (defined name, metric id, figure of fct_bcf_metrics_quarterly).
    Figures named `assessment` are text, every other figure a number. -#}
{%- set metric_cells = [
    ('NEA_ACTUAL_Q', 'nea', 'actual_q'),
    ('NEA_ACTUAL_YTD', 'nea', 'actual_ytd'),
    ('NEA_PLAN_Q', 'nea', 'plan_q'),
    ('NEA_PLAN_YTD', 'nea', 'plan_ytd'),
    ('NEA_RATE_Q', 'nea', 'rate_q'),
    ('NEA_ASSESSMENT', 'nea', 'assessment'),
    ('RES65_ACTUAL_Q', 'res65', 'actual_q'),
    ('RES65_ACTUAL_YTD', 'res65', 'actual_ytd'),
    ('RES65_PLAN_YTD', 'res65', 'plan_ytd'),
    ('RES65_RATE_YTD', 'res65', 'rate_ytd'),
    ('RES65_ASSESSMENT', 'res65', 'assessment'),
    ('REAB_COHORT_QUARTER', 'reab', 'cohort_quarter_label'),
    ('REAB_DENOMINATOR', 'reab', 'denominator_q'),
    ('REAB_NUMERATOR', 'reab', 'numerator_q'),
    ('REAB_PCT', 'reab', 'pct_q'),
    ('REAB_UNLINKED', 'reab', 'unlinked_q'),
    ('REAB_PLAN_PCT', 'reab', 'plan_q'),
    ('REAB_ASSESSMENT', 'reab', 'assessment'),
    ('DTOC_DAYS_Q', 'dtoc', 'actual_q'),
    ('DTOC_DAYS_NHS_Q', 'dtoc', 'days_nhs_q'),
    ('DTOC_DAYS_SOCIAL_CARE_Q', 'dtoc', 'days_social_care_q'),
    ('DTOC_DAYS_BOTH_Q', 'dtoc', 'days_both_q'),
    ('DTOC_DAYS_YTD', 'dtoc', 'actual_ytd'),
    ('DTOC_PLAN_YTD', 'dtoc', 'plan_ytd'),
    ('DTOC_RATE_Q', 'dtoc', 'rate_q'),
    ('DTOC_ASSESSMENT', 'dtoc', 'assessment'),
    ('FALLS65_ACTUAL_Q', 'falls65', 'actual_q'),
    ('FALLS65_ACTUAL_YTD', 'falls65', 'actual_ytd'),
    ('FALLS65_PLAN_YTD', 'falls65', 'plan_ytd'),
    ('FALLS65_RATE_Q', 'falls65', 'rate_q'),
    ('FALLS65_DSR_Q', 'falls65', 'dsr_q'),
    ('FALLS65_ASSESSMENT', 'falls65', 'assessment'),
    ('DUPR_DENOMINATOR_Q', 'dupr', 'denominator_q'),
    ('DUPR_NUMERATOR_Q', 'dupr', 'numerator_q'),
    ('DUPR_PCT_Q', 'dupr', 'pct_q'),
    ('ACSC_ACTUAL_Q', 'acsc', 'actual_q'),
    ('ACSC_RATE_Q', 'acsc', 'rate_q'),
] -%}
{%- set metric_figures = ['actual_q', 'actual_ytd', 'plan_q', 'plan_ytd', 'rate_q', 'rate_ytd', 'dsr_q', 'denominator_q',
                          'numerator_q', 'pct_q', 'unlinked_q', 'days_nhs_q', 'days_social_care_q', 'days_both_q'] -%}
{%- set metric_texts = ['assessment', 'cohort_quarter_label'] -%}
{#- The Data Quality sheet's five patient-level feeds (return.md). -#}
{%- set dq_feeds = ['hes_apc', 'hes_ae', 'ambulance', 'social_care', 'dtoc'] -%}
{%- set funding_sources = ['CCG_MINIMUM', 'DFG', 'IBCF', 'ADDITIONAL_LA', 'ADDITIONAL_CCG'] -%}

with hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

population as (

    select * from {{ ref('int_population__hwb_mid_year') }}

),

metrics as (

    select * from {{ ref('fct_bcf_metrics_quarterly') }}

),

dashboard as (

    select * from {{ ref('fct_place_dashboard_quarterly') }}

),

slots as (

    select * from {{ ref('int_place_dashboard__locality_slots') }}

),

reconciliation as (

    select * from {{ ref('fct_ingest_reconciliation') }}

),

finance as (

    select * from {{ ref('fct_bcf_income_expenditure_quarterly') }}

),

spine as (

    select
        hwbs.hwb_code,
        hwbs.hwb_name,
        quarters.quarter_start,
        quarters.fy_start_year,
        quarters.quarter_label
    from hwbs
    cross join quarters

),

-- Cover: what identifies the return, and the population mid-year its rates use
cover_cells as (

    select hwb_code, quarter_start, 'HWB_CODE' as defined_name,
           cast(null as double precision) as value_number, cast(hwb_code as varchar) as value_text
    from spine

    union all

    select hwb_code, quarter_start, 'HWB_NAME' as defined_name,
           cast(null as double precision) as value_number, cast(hwb_name as varchar) as value_text
    from spine

    union all

    select hwb_code, quarter_start, 'REPORTING_QUARTER' as defined_name,
           cast(null as double precision) as value_number, cast(quarter_label as varchar) as value_text
    from spine

    union all

    -- empty (not 0) when the HWB has no population at all
    select spine.hwb_code, spine.quarter_start, 'POPULATION_MID_YEAR' as defined_name,
           cast(population.mid_year as double precision) as value_number, cast(null as varchar) as value_text
    from spine
    left join population
        on population.hwb_code = spine.hwb_code
       and population.fy_start_year = spine.fy_start_year

),

metric_names as (

    select * from (values
        {%- for name, metric_id, figure in metric_cells %}
        ('{{ name }}', '{{ metric_id }}', '{{ figure }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as t(defined_name, metric_id, figure)

),

metric_cells as (

    select
        metrics.hwb_code,
        metrics.quarter_start,
        metric_names.defined_name,
        case metric_names.figure
            {%- for figure in metric_figures %}
            when '{{ figure }}' then cast(metrics.{{ figure }} as double precision)
            {%- endfor %}
        end as value_number,
        case metric_names.figure
            {%- for figure in metric_texts %}
            when '{{ figure }}' then cast(metrics.{{ figure }} as varchar)
            {%- endfor %}
        end as value_text
    from metrics
    inner join metric_names
        on metric_names.metric_id = metrics.metric_id

),

-- Place Dashboard: `ALL` names carry ALL, a locality's names carry its slot (LOC<k>)
dashboard_units as (

    select
        dashboard.*,
        'DASH_' || upper(substr(dashboard.measure_id, 6)) || '_'
            || case when dashboard.is_all then 'ALL' else 'LOC' || cast(slots.slot as varchar) end
            as name_prefix
    from dashboard
    left join slots
        on slots.hwb_code = dashboard.hwb_code
       and slots.locality_code = dashboard.locality_code
    where dashboard.is_all or slots.slot is not null

),

dashboard_cells as (

    select hwb_code, quarter_start, name_prefix || '_Q' as defined_name,
           cast(actual_q as double precision) as value_number, cast(null as varchar) as value_text
    from dashboard_units

    union all

    select hwb_code, quarter_start, name_prefix || '_YTD' as defined_name,
           cast(actual_ytd as double precision) as value_number, cast(null as varchar) as value_text
    from dashboard_units

    union all

    select hwb_code, quarter_start, name_prefix || '_TARGET_YTD' as defined_name,
           cast(target_ytd as double precision) as value_number, cast(null as varchar) as value_text
    from dashboard_units
    where is_all

    union all

    select hwb_code, quarter_start, name_prefix || '_RAG' as defined_name,
           cast(null as double precision) as value_number, cast(rag as varchar) as value_text
    from dashboard_units
    where is_all

),

locality_cells as (

    select spine.hwb_code, spine.quarter_start, 'DASH_LOC' || cast(slots.slot as varchar) || '_CODE' as defined_name,
           cast(null as double precision) as value_number, cast(slots.locality_code as varchar) as value_text
    from spine
    inner join slots
        on slots.hwb_code = spine.hwb_code

    union all

    select spine.hwb_code, spine.quarter_start, 'DASH_LOC' || cast(slots.slot as varchar) || '_NAME' as defined_name,
           cast(null as double precision) as value_number, cast(slots.locality_name as varchar) as value_text
    from spine
    inner join slots
        on slots.hwb_code = spine.hwb_code

),

-- Data Quality: every delivery loaded so far, all HWBs (return.md), so the same in every return
dq_feeds as (

    select * from (values
        {%- for feed in dq_feeds %}
        ('{{ feed }}'){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as t(feed)

),

dq_totals as (

    select
        dq_feeds.feed,
        coalesce(sum(reconciliation.rows_in), 0) as rows_in,
        coalesce(sum(reconciliation.valid), 0) as valid,
        coalesce(sum(reconciliation.quarantined), 0) as quarantined,
        coalesce(sum(reconciliation.superseded), 0) as superseded
    from dq_feeds
    left join reconciliation
        on reconciliation.feed = dq_feeds.feed
       and reconciliation.status = 'loaded'
    group by dq_feeds.feed

),

dq_figures as (

    select feed, 'ROWS_IN' as figure, rows_in as n from dq_totals
    union all
    select feed, 'VALID' as figure, valid as n from dq_totals
    union all
    select feed, 'QUARANTINED' as figure, quarantined as n from dq_totals
    union all
    select feed, 'SUPERSEDED' as figure, superseded as n from dq_totals

),

dq_cells as (

    select spine.hwb_code, spine.quarter_start, 'DQ_' || upper(dq_figures.feed) || '_' || dq_figures.figure as defined_name,
           cast(dq_figures.n as double precision) as value_number, cast(null as varchar) as value_text
    from spine
    cross join dq_figures

),

-- Income and Expenditure: INCOME_/EXPENDITURE_ PLAN_FY and ACTUAL_YTD, INCOME_PLAN_FY_<SOURCE>
finance_cells as (

    select hwb_code, quarter_start, line_type || '_PLAN_FY' as defined_name,
           cast(plan_fy as double precision) as value_number, cast(null as varchar) as value_text
    from finance
    where funding_source = 'ALL'

    union all

    select hwb_code, quarter_start, line_type || '_ACTUAL_YTD' as defined_name,
           cast(actual_ytd as double precision) as value_number, cast(null as varchar) as value_text
    from finance
    where funding_source = 'ALL'

    union all

    select hwb_code, quarter_start, 'INCOME_PLAN_FY_' || funding_source as defined_name,
           cast(plan_fy as double precision) as value_number, cast(null as varchar) as value_text
    from finance
    where line_type = 'INCOME'
      and funding_source in ({% for source in funding_sources %}'{{ source }}'{% if not loop.last %}, {% endif %}{% endfor %})

),

final as (

    select * from cover_cells
    union all
    select * from metric_cells
    union all
    select * from dashboard_cells
    union all
    select * from locality_cells
    union all
    select * from dq_cells
    union all
    select * from finance_cells

)

select * from final
