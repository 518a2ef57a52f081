with population as (

    select * from {{ ref('stg_ons__population') }}

),

lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

hwbs as (

    select * from {{ ref('int_reference__hwbs') }}

),

-- one figure per area, mid-year and age even if two current deliveries both carry it (latest wins)
ranked as (

    select
        *,
        row_number() over (
            partition by area_code, mid_year, age
            order by _delivery desc, _row_number desc
        ) as delivery_rank
    from population

),

deduplicated as (

    select * from ranked
    where delivery_rank = 1

),

hwb_rows as (

    select
        hwbs.hwb_code,
        deduplicated.mid_year,
        deduplicated.age,
        deduplicated.population,
        'hwb_row' as population_source
    from deduplicated
    inner join hwbs
        on deduplicated.area_code = hwbs.hwb_code

),

lsoa_sums as (

    select
        lookup.la_code as hwb_code,
        deduplicated.mid_year,
        deduplicated.age,
        sum(deduplicated.population) as population,
        'lsoa_sum' as population_source
    from deduplicated
    inner join lookup
        on deduplicated.area_code = lookup.lsoa11_code
    group by lookup.la_code, deduplicated.mid_year, deduplicated.age

),

hwb_years as (

    select distinct hwb_code, mid_year
    from hwb_rows

),

-- the HWB's own row wins; the sum of its LSOA rows only when that mid-year has no HWB row
lsoa_fallback as (

    select lsoa_sums.*
    from lsoa_sums
    left join hwb_years
        on lsoa_sums.hwb_code = hwb_years.hwb_code
       and lsoa_sums.mid_year = hwb_years.mid_year
    where hwb_years.hwb_code is null

),

final as (

    select * from hwb_rows
    union all
    select * from lsoa_fallback

)

select * from final
