with ages as (

    select * from {{ ref('int_population__hwb_ages') }}

),

quarters as (

    select * from {{ ref('int_calendar__fy_quarters') }}

),

financial_years as (

    select distinct fy_start_year
    from quarters

),

available as (

    select
        hwb_code,
        mid_year,
        min(population_source) as population_source,
        sum(population) as population_all_ages,
        sum(case when age >= 18 then population else 0 end) as population_18_plus,
        sum(case when age >= 65 then population else 0 end) as population_65_plus,
        sum(case when age between 65 and 69 then population else 0 end) as population_65_69,
        sum(case when age between 70 and 74 then population else 0 end) as population_70_74,
        sum(case when age between 75 and 79 then population else 0 end) as population_75_79,
        sum(case when age between 80 and 84 then population else 0 end) as population_80_84,
        sum(case when age between 85 and 89 then population else 0 end) as population_85_89,
        sum(case when age >= 90 then population else 0 end) as population_90_plus
    from ages
    group by hwb_code, mid_year

),

-- FY starting in April of Y uses mid-year Y-1; else the closest available, the earlier on a tie
ranked as (

    select
        financial_years.fy_start_year,
        available.*,
        row_number() over (
            partition by available.hwb_code, financial_years.fy_start_year
            order by abs(available.mid_year - (financial_years.fy_start_year - 1)), available.mid_year
        ) as choice_rank
    from financial_years
    cross join available

),

final as (

    select
        hwb_code,
        fy_start_year,
        mid_year,
        population_source,
        population_all_ages,
        population_18_plus,
        population_65_plus,
        population_65_69,
        population_70_74,
        population_75_79,
        population_80_84,
        population_85_89,
        population_90_plus
    from ranked
    where choice_rank = 1

)

select * from final
