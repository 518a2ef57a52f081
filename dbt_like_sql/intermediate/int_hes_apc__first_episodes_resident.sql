with episodes as (

    select * from {{ ref('int_hes_apc__episodes_classified') }}

),

first_resident as (

    select * from episodes
    where epiorder = 1
      and hwb_code is not null

),

final as (

    select
        epikey,
        person_key,
        procode3,
        admidate,
        admission_month,
        hwb_code,
        locality_code,
        startage,
        admimeth,
        admisorc,
        tretspef,
        diag_4_01,
        age_band_65_plus,
        is_emergency,

        is_nea_admission_method and not is_tretspef_excluded
            as is_nea,

        is_emergency and startage >= 65 and is_injury_primary and has_fall_secondary
            as is_falls65,

        is_emergency and not is_transfer_in and is_acsc_diagnosis
            as is_acsc,

        is_nea_admission_method and not is_tretspef_excluded and startage <= 4 and is_respiratory_primary
            as is_dash_nel_resp_0_4,

        is_emergency and is_care_home_source
            as is_dash_ch_admit

    from first_resident

)

select * from final
