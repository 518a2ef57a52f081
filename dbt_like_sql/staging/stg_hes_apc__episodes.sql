{#- Diagnosis codes: strip dots, then up to three trailing X, -, D or A (never into the 3-character
    category), and map R69 (no diagnosis) and leftovers such as '-' to NULL. -#}
{%- set diag_columns = [
    'diag_4_01', 'diag_4_02', 'diag_4_03', 'diag_4_04', 'diag_4_05', 'diag_4_06', 'diag_4_07',
    'diag_4_08', 'diag_4_09', 'diag_4_10', 'diag_4_11', 'diag_4_12', 'diag_4_13', 'diag_4_14',
    'diag_4_15', 'diag_4_16', 'diag_4_17', 'diag_4_18', 'diag_4_19', 'diag_4_20'] -%}
{%- macro strip_suffix(col) -%}
case when length({{ col }}) > 3 and right({{ col }}, 1) in ('X', '-', 'D', 'A') then left({{ col }}, length({{ col }}) - 1) else {{ col }} end
{%- endmacro -%}

with source as (

    select * from {{ source('ingest', 'hes_apc') }}

),

current_rows as (

    select * from source
    where _superseded_by is null

),

renamed as (

    select
        trim(cast(epikey as varchar)) as epikey,
        upper(trim(cast(procode3 as varchar))) as procode3,
        cast(person_key as varchar) as person_key,
        cast(person_key_source as varchar) as person_key_source,
        cast(admidate as date) as admidate,
        cast(epistart as date) as epistart,
        cast(epiend as date) as epiend,
        cast(disdate as date) as disdate,
        cast(epiorder as integer) as epiorder,
        nullif(upper(trim(cast(spelend as varchar))), '') as spelend,
        nullif(upper(trim(cast(admimeth as varchar))), '') as admimeth,
        nullif(upper(trim(cast(admisorc as varchar))), '') as admisorc,
        nullif(upper(trim(cast(classpat as varchar))), '') as classpat,
        nullif(upper(trim(cast(dismeth as varchar))), '') as dismeth,
        nullif(upper(trim(cast(disdest as varchar))), '') as disdest,
        cast(startage as integer) as startage,
        nullif(upper(trim(cast(sex as varchar))), '') as sex,
        nullif(upper(trim(cast(lsoa11 as varchar))), '') as lsoa11,
        nullif(upper(trim(cast(gpprac as varchar))), '') as gpprac,
        nullif(upper(trim(cast(tretspef as varchar))), '') as tretspef,
        {%- for col in diag_columns %}
        nullif(upper(replace(trim(cast({{ col }} as varchar)), '.', '')), '') as {{ col }},
        {%- endfor %}
        _delivery,
        _row_number,
        _warnings
    from current_rows

),

diag_strip_1 as (

    select
        epikey, procode3, person_key, person_key_source, admidate, epistart, epiend, disdate,
        epiorder, spelend, admimeth, admisorc, classpat, dismeth, disdest, startage, sex, lsoa11,
        gpprac, tretspef,
        {%- for col in diag_columns %}
        {{ strip_suffix(col) }} as {{ col }},
        {%- endfor %}
        _delivery, _row_number, _warnings
    from renamed

),

diag_strip_2 as (

    select
        epikey, procode3, person_key, person_key_source, admidate, epistart, epiend, disdate,
        epiorder, spelend, admimeth, admisorc, classpat, dismeth, disdest, startage, sex, lsoa11,
        gpprac, tretspef,
        {%- for col in diag_columns %}
        {{ strip_suffix(col) }} as {{ col }},
        {%- endfor %}
        _delivery, _row_number, _warnings
    from diag_strip_1

),

final as (

    select
        epikey, procode3, person_key, person_key_source, admidate, epistart, epiend, disdate,
        epiorder, spelend, admimeth, admisorc, classpat, dismeth, disdest, startage, sex, lsoa11,
        gpprac, tretspef,
        {%- for col in diag_columns %}
        case
            when {{ strip_suffix(col) }} in ('', '-', 'R69') then null
            else {{ strip_suffix(col) }}
        end as {{ col }},
        {%- endfor %}
        _delivery, _row_number, _warnings
    from diag_strip_2

)

select * from final
