with localities as (

    select * from {{ ref('int_reference__hwb_localities') }}

),

-- the template's Place Dashboard has numbered locality slots; an HWB's localities fill them in
-- locality_code order, so the same locality keeps its slot from quarter to quarter
final as (

    select
        hwb_code,
        locality_code,
        locality_name,
        cast(row_number() over (partition by hwb_code order by locality_code) as integer) as slot
    from localities
    where not is_all

)

select * from final
