with first_episodes as (

    select * from {{ ref('int_hes_apc__first_episodes_resident') }}

),

spells as (

    select * from {{ ref('int_hes_apc__spells') }}

),

-- dupr's spells: resident (first episode), discharged, none of the exclusions
dupr_spells as (

    select * from spells
    where hwb_code is not null
      and disdate is not null
      and (dismeth is null or dismeth not in ('4', '5'))
      and disdest is not null
      and disdest not in ('79', '98', '99')
      and admimeth not in ('31', '32', '82', '83')
      and not is_tretspef_excluded

),

counts as (

    select hwb_code, 'nea' as metric_id, 'count' as component, admission_month as month_start, count(*) as n
    from first_episodes
    where is_nea
    group by hwb_code, admission_month

    union all

    select hwb_code, 'falls65' as metric_id, 'count' as component, admission_month as month_start, count(*) as n
    from first_episodes
    where is_falls65
    group by hwb_code, admission_month

    union all

    select hwb_code, 'falls65' as metric_id, 'band_' || age_band_65_plus as component, admission_month as month_start, count(*) as n
    from first_episodes
    where is_falls65
    group by hwb_code, age_band_65_plus, admission_month

    union all

    select hwb_code, 'acsc' as metric_id, 'count' as component, admission_month as month_start, count(*) as n
    from first_episodes
    where is_acsc
    group by hwb_code, admission_month

    union all

    select hwb_code, 'dupr' as metric_id, 'denominator' as component, discharge_month as month_start, count(*) as n
    from dupr_spells
    group by hwb_code, discharge_month

    union all

    select hwb_code, 'dupr' as metric_id, 'numerator' as component, discharge_month as month_start, count(*) as n
    from dupr_spells
    where disdest = '19'
    group by hwb_code, discharge_month

)

select * from counts
