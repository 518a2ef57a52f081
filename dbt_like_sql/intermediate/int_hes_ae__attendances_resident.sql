with attendances as (

    select * from {{ ref('stg_hes_ae__attendances') }}

),

lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

resident as (

    select
        attendances.*,
        lookup.la_code as hwb_code,
        lookup.locality_code,
        cast(date_trunc('month', attendances.arrivaldate) as date) as arrival_month
    from attendances
    inner join lookup
        on attendances.lsoa11 = lookup.lsoa11_code

),

final as (

    select
        aekey,
        person_key,
        procode3,
        arrivaldate,
        arrival_month,
        hwb_code,
        locality_code,
        arrivalage,
        aeattendcat,
        diag2_01,
        diag3_01,

        -- dash_ae_att: AEATTENDCAT not 2 (planned follow-up); missing or unknown category counts
        (aeattendcat is null or aeattendcat <> '2') as is_dash_ae_att,

        -- dash_ed_resp_0_4: age <= 4, condition 25 from DIAG2_01, else from DIAG3_01
        (aeattendcat is null or aeattendcat <> '2')
            and arrivalage <= 4
            and coalesce(left(coalesce(diag2_01, diag3_01), 2) = '25', false)
            as is_dash_ed_resp_0_4

    from resident

)

select * from final
