{#- Code lists of metrics.md, written once here and reused by every hes_apc metric. -#}
{%- macro code_list(codes) -%}
({% for c in codes %}'{{ c }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro -%}
{%- macro number_range(prefix, first, last, width) -%}
({% for n in range(first, last + 1) %}'{{ prefix }}{{ ('%0' ~ width ~ 'd') % n }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro -%}
{#- A digit test that compares characters by equality, so it cannot depend on a collation. -#}
{%- macro is_digit(expr) -%}
{{ expr }} in ('0', '1', '2', '3', '4', '5', '6', '7', '8', '9')
{%- endmacro -%}
{%- set secondary = [
    'diag_4_02', 'diag_4_03', 'diag_4_04', 'diag_4_05', 'diag_4_06', 'diag_4_07', 'diag_4_08',
    'diag_4_09', 'diag_4_10', 'diag_4_11', 'diag_4_12', 'diag_4_13', 'diag_4_14', 'diag_4_15',
    'diag_4_16', 'diag_4_17', 'diag_4_18', 'diag_4_19', 'diag_4_20'] -%}

{#- The any-secondary-diagnosis rules, each written once as a predicate on one code. -#}
{%- macro is_fall(code) -%}
left({{ code }}, 1) = 'W' and substr({{ code }}, 2, 1) in ('0', '1') and {{ is_digit('substr(' ~ code ~ ', 3, 1)') }}
{%- endmacro -%}
{%- macro is_sickle_cell(code) -%}
left({{ code }}, 3) = 'D57'
{%- endmacro -%}
{%- macro is_copd_asthma(code) -%}
left({{ code }}, 3) in {{ code_list(['J41', 'J42', 'J43', 'J44', 'J47']) }}
{%- endmacro -%}
{%- set flags = [('has_fall_secondary', is_fall), ('has_sickle_cell_secondary', is_sickle_cell),
                 ('has_copd_asthma_secondary', is_copd_asthma)] -%}

with episodes as (

    select * from {{ ref('stg_hes_apc__episodes') }}

),

lookup as (

    select * from {{ ref('stg_reference__lsoa_localities') }}

),

-- the any-secondary-diagnosis flags (rules: the macros at the top)
secondary_flags as (
{%- if dialect == 'duckdb' %}

    -- one pass over DIAG_4_02..DIAG_4_20 as a list per row: no long form and no group by
    -- (the long form's 19 x rows hash aggregate spilled to disk at England scale: 45 s of 77 s)
    select
        epikey,
        {%- for name, rule in flags %}
        case when len(list_filter([{{ secondary | join(', ') }}], lambda code: {{ rule('code') }})) > 0
            then 1 else 0 end as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from episodes
{%- else %}

    -- DIAG_4_02..DIAG_4_20 in long form (one rule per code instead of 19 OR-ed column tests)
    select
        epikey,
        {%- for name, rule in flags %}
        max(case when {{ rule('code') }} then 1 else 0 end) as {{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from (
        {%- for col in secondary %}
        select epikey, {{ col }} as code from episodes where {{ col }} is not null
        {%- if not loop.last %}
        union all
        {%- endif %}
        {%- endfor %}
    ) as secondary_diagnoses
    group by epikey
{%- endif %}

),

flagged as (

    select
        episodes.*,
        lookup.la_code as hwb_code,
        lookup.locality_code,
        cast(date_trunc('month', episodes.admidate) as date) as admission_month,

        -- metrics.md: emergency = ADMIMETH starting with 2 (21-28, 2A-2D)
        coalesce(left(episodes.admimeth, 1) = '2', false) as is_emergency,

        -- nea's admission methods (note 81 is included, 2x are listed one by one)
        coalesce(episodes.admimeth in {{ code_list(['21', '22', '23', '24', '25', '28', '2A', '2B', '2C', '2D', '81']) }}, false)
            as is_nea_admission_method,

        -- nea's TRETSPEF exclusions; an empty or non-numeric TRETSPEF is never excluded
        coalesce(
            episodes.tretspef in {{ code_list(['199', '223', '290', '291', '331', '344', '345', '346', '424', '499', '501', '504', '560', '840', '920']) }}
            or episodes.tretspef in {{ number_range('', 650, 662, 3) }}
            or episodes.tretspef in {{ number_range('', 700, 799, 3) }},
            false
        ) as is_tretspef_excluded,

        -- admitted from another NHS hospital
        coalesce(episodes.admisorc in {{ code_list(['51', '52', '53']) }}, false) as is_transfer_in,

        -- admitted from a care home (dash_ch_admit)
        coalesce(episodes.admisorc in {{ code_list(['54', '55', '56', '65', '85']) }}, false) as is_care_home_source,

        -- falls65: primary diagnosis an injury S00-T98
        coalesce(
            left(episodes.diag_4_01, 1) = 'S'
            or (left(episodes.diag_4_01, 1) = 'T'
                and {{ is_digit('substr(episodes.diag_4_01, 2, 1)') }}
                and {{ is_digit('substr(episodes.diag_4_01, 3, 1)') }}
                and substr(episodes.diag_4_01, 2, 2) <> '99'),
            false
        ) as is_injury_primary,

        -- any-diagnosis rules come from secondary_flags (long form, see above)
        coalesce(secondary_flags.has_fall_secondary = 1, false) as has_fall_secondary,

        -- acsc: any diagnosis (primary or secondary) in D57 (sickle-cell disorders)
        coalesce(left(episodes.diag_4_01, 3) = 'D57' or secondary_flags.has_sickle_cell_secondary = 1, false)
            as has_sickle_cell_diagnosis,

        coalesce(secondary_flags.has_copd_asthma_secondary = 1, false) as has_copd_asthma_secondary,

        coalesce(left(episodes.diag_4_01, 1) = 'J', false) as is_respiratory_primary,

        case
            when episodes.startage between 65 and 69 then '65_69'
            when episodes.startage between 70 and 74 then '70_74'
            when episodes.startage between 75 and 79 then '75_79'
            when episodes.startage between 80 and 84 then '80_84'
            when episodes.startage between 85 and 89 then '85_89'
            when episodes.startage >= 90 then '90_plus'
        end as age_band_65_plus

    from episodes
    left join lookup
        on episodes.lsoa11 = lookup.lsoa11_code
    left join secondary_flags
        on secondary_flags.epikey = episodes.epikey

),

final as (

    select
        *,
        -- acsc primary diagnosis list with its two conditional clauses
        coalesce(
            (left(diag_4_01, 4) in {{ code_list(['B180', 'B181']) }} and not has_sickle_cell_diagnosis)
            or left(diag_4_01, 3) in {{ code_list(['E10', 'E11', 'E12', 'E13', 'E14']) }}
            or left(diag_4_01, 4) in {{ code_list(['D501', 'D508', 'D509']) }}
            or left(diag_4_01, 3) in {{ code_list(['D51', 'D52']) }}
            or left(diag_4_01, 3) in {{ code_list(['F00', 'F01', 'F02', 'F03']) }}
            or left(diag_4_01, 3) in {{ code_list(['G40', 'G41']) }}
            or left(diag_4_01, 3) in {{ code_list(['I10', 'I20', 'I25', 'I48', 'I50']) }}
            or left(diag_4_01, 4) in {{ code_list(['I110', 'I119', 'I130']) }}
            or left(diag_4_01, 3) in {{ code_list(['J41', 'J42', 'J43', 'J44', 'J45', 'J46', 'J47', 'J81']) }}
            or (left(diag_4_01, 3) = 'J20' and has_copd_asthma_secondary),
            false
        ) as is_acsc_diagnosis
    from flagged

)

select * from final
