with spells as (

    select * from {{ ref('int_hes_apc__spells') }}

),

-- R: emergency spells, not transferred in, with a person_key, resident
readmission_candidates as (

    select * from spells
    where is_emergency
      and not is_transfer_in
      and person_key is not null
      and hwb_code is not null

),

-- P: any spell of a linked person that ended alive (DISMETH not 4 or 5; empty DISMETH allowed)
previous_spells as (

    select * from spells
    where person_key is not null
      and disdate is not null
      and (dismeth is null or dismeth not in ('4', '5'))

),

pairs as (

    select
        r.spell_person_id,
        r.procode3,
        r.admidate,
        r.person_key,
        r.hwb_code,
        r.locality_code,
        (r.admidate - p.disdate) as days_since_discharge
    from readmission_candidates as r
    inner join previous_spells as p
        on p.person_key = r.person_key
       and not (p.procode3 = r.procode3 and p.admidate = r.admidate)
    where (r.admidate - p.disdate) between 0 and 30

),

final as (

    select
        spell_person_id,
        procode3,
        admidate,
        cast(date_trunc('month', admidate) as date) as admission_month,
        hwb_code,
        locality_code,
        min(days_since_discharge) as days_since_previous_discharge,
        count(*) as previous_spell_count
    from pairs
    group by spell_person_id, procode3, admidate, hwb_code, locality_code

)

select * from final
