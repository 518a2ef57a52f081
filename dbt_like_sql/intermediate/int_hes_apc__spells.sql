with episodes as (

    select * from {{ ref('int_hes_apc__episodes_classified') }}

),

-- feeds.md: a spell is (person_key or, where empty, EPIKEY), PROCODE3 and ADMIDATE
keyed as (

    select
        *,
        case when person_key is not null then person_key else 'epikey:' || epikey end as spell_person_id
    from episodes

),

ranked as (

    select
        *,
        -- admission attributes: the episode with the lowest EPIORDER (ties: lowest EPIKEY)
        row_number() over (
            partition by spell_person_id, procode3, admidate
            order by epiorder, epikey
        ) as admission_rank,
        -- discharge attributes: the SPELEND = Y episode, else the highest EPIORDER
        -- (ties, including several SPELEND = Y: highest EPIORDER, then highest EPIKEY)
        row_number() over (
            partition by spell_person_id, procode3, admidate
            order by case when spelend = 'Y' then 0 else 1 end, epiorder desc, epikey desc
        ) as discharge_rank,
        count(*) over (partition by spell_person_id, procode3, admidate) as episode_count
    from keyed

),

admission_episode as (

    select * from ranked
    where admission_rank = 1

),

discharge_episode as (

    select * from ranked
    where discharge_rank = 1

),

final as (

    select
        a.spell_person_id,
        a.procode3,
        a.admidate,
        a.person_key,
        a.episode_count,
        a.epikey as first_epikey,
        a.epiorder as first_epiorder,
        a.admimeth,
        a.admisorc,
        a.tretspef,
        a.startage,
        a.lsoa11,
        a.hwb_code,
        a.locality_code,
        a.is_emergency,
        a.is_transfer_in,
        a.is_tretspef_excluded,
        d.epikey as discharge_epikey,
        d.disdate,
        d.dismeth,
        d.disdest,
        cast(date_trunc('month', d.disdate) as date) as discharge_month
    from admission_episode as a
    inner join discharge_episode as d
        on a.spell_person_id = d.spell_person_id
       and a.procode3 = d.procode3
       and a.admidate = d.admidate

)

select * from final
