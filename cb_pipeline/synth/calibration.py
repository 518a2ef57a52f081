"""Calibration of the synthetic landing zone: volumes, seasonality, age curves, code lists.

Belongs here: the numbers that make the synthetic data look like Central Bedfordshire in
2017-19 (annual volumes at scale 1.0 for a population of `REFERENCE_POPULATION`, monthly
seasonality, relative rates by age, provider mixes by locality, code lists with weights).
Does not: any generation logic (see the feed modules) or anything the pipeline itself uses -
the pipeline's code lists live with each feed's FeedSpec, and tests never read these figures.
"""

import numpy as np

# Annual volumes at scale 1.0 for an HWB of this many people (mid-year before the FY).
REFERENCE_POPULATION = 288_000
REFERENCE_POPULATION_65_PLUS_SHARE = 0.174  # ~50,000 of 288,000
POPULATION_GROWTH = 0.012  # per year, all ages
VOLUME_GROWTH = 0.02  # per FY after 2017-18, activity
FIRST_CALIBRATED_FY = 2017

ACUTE_PROVIDERS = ("RC9", "RD8", "RWH", "RWG", "RGT", "RGN", "RXQ")
NON_ACUTE_PROVIDERS = ("RYV", "RWK", "RY4")  # community / mental health, for dtoc Non-Acute rows
AMBULANCE_SUPPLIER = "EEAST"
DESTINATION_SITES = {"RC9": "RC971", "RD8": "RD816", "RWH": "RWH01", "RWG": "RWG02", "RGT": "RGT01", "RGN": "RGN80", "RXQ": "RXQ50"}

# Provider shares by locality pattern (Chiltern Vale, Leighton Buzzard, West Mid Beds, Ivel Valley);
# synthetic HWBs reuse the patterns for their localities L1..L4. Columns follow ACUTE_PROVIDERS.
LOCALITY_PATTERNS = {"CV": 0, "LB": 1, "WMB": 2, "IV": 3}
PROVIDER_MIX = np.array(
    [
        [0.80, 0.04, 0.03, 0.07, 0.02, 0.01, 0.03],
        [0.38, 0.34, 0.02, 0.05, 0.02, 0.01, 0.18],
        [0.55, 0.25, 0.08, 0.02, 0.05, 0.03, 0.02],
        [0.22, 0.05, 0.40, 0.01, 0.12, 0.19, 0.01],
    ]
)
ELECTIVE_SPECIALIST_SHIFT = np.array([0.0, 0.0, 0.0, 0.0, 0.08, 0.0, 0.0])  # more elective work at RGT

# Supplier quirks (feeds.md "expect real quirks").
DASH_EMPTY_DIAGNOSIS_PROVIDERS = {"RC9", "RWH", "RGT", "RXQ"}  # '-' in empty DIAG slots
FLOAT_AGE_PROVIDERS = {"RD8", "RGN"}  # ages written as 42.0
HHMM_TIME_PROVIDERS = {"RWH", "RGN"}  # ARRIVALTIME 0930 rather than 09:30
AE_INFANT_CODE_PROVIDERS = {"RC9", "RWG", "RGT", "RXQ"}  # ARRIVALAGE 7001-7007 for infants
BOM_SUPPLIERS = {"RWG"}  # files start with a UTF-8 byte order mark

# ---- annual volumes at scale 1.0, REFERENCE_POPULATION ----
AE_ATTENDANCES = 68_500  # rows; ~2.5% planned follow-ups (AEATTENDCAT 2)
AE_RESP_0_4 = 570  # dash_ed_resp_0_4
EMERGENCY_FIRST_EPISODES = 30_000  # ADMIMETH 2x, EPIORDER 1
READMISSIONS_30D = 4_000
NEL_RESP_0_4 = 1_150
FALLS_65 = 1_050
ACSC = 2_300
TRANSFERS_81 = 300
CH_CALLOUTS = 1_900
CH_CONVEY_ED_SHARE = 0.68
CH_CONVEY_OTHER_SHARE = 0.06
CH_HEAR_TREAT_SHARE = 0.06
CH_ADMIT_FROM_CONVEY_ED = 0.66  # conveyed to ED, then admitted (ADMISORC care home); readmissions add ~15%
FALLS_FROM_CARE_HOME = 0.10
AMBULANCE_OTHER_INCIDENTS = 33_000
ELECTIVE_DAYCASE = 30_000
ELECTIVE_ORDINARY = 7_000
REGULAR_DAY = 1_500
MATERNITY_31 = 2_000
MATERNITY_32 = 500
BIRTHS = 3_200
DELAYED_DAYS = 5_000
# social care (council-funded activity per year)
RES65_ADMISSIONS = 300
RES_SELF_FUNDED = 45
RES_UNDER_65 = 25
RES_MOVES = 60
CARE_HOME_STOCK = 900  # open placements of people 65+ when the range starts
REABLEMENT_FROM_HOSPITAL_65 = 450
REABLEMENT_FROM_HOSPITAL_UNDER_65 = 60
REABLEMENT_OTHER = 250
LTS_COMMUNITY = 1_000
SHORT_TERM_OTHER = 300
REQUESTS = 5_000
ASSESSMENT_SHARE = 0.5
REVIEWS = 2_500
CARER_ASSESSMENTS = 350
CARER_SERVICES = 250
PRISON = 3
# reablement status at 91 days (exclusive shares; the rest are at home)
REAB_DIED = 0.07
REAB_CARE_HOME = 0.05
REAB_IN_HOSPITAL = 0.03
REAB_PLAN_PCT = 83.0

SOCIAL_CARE_NO_NHS = 0.04
HES_NO_NHS = 0.02
AE_NO_NHS = 0.03
AMBULANCE_NO_NHS = 0.25
PERSON_NO_LSOA = 0.006
ROW_NO_LSOA = 0.003

# ---- seasonality by calendar month (Jan..Dec), relative per day ----
SEASON_NEL = np.array([1.10, 1.03, 1.02, 0.97, 0.99, 0.95, 0.99, 0.94, 0.96, 1.00, 1.01, 1.06])
SEASON_AE = np.array([0.95, 0.92, 1.00, 1.00, 1.06, 1.04, 1.07, 1.00, 0.99, 1.00, 0.97, 1.00])
SEASON_RESP = np.array([1.50, 1.10, 0.95, 0.70, 0.65, 0.55, 0.50, 0.45, 0.75, 1.10, 1.60, 2.20])
SEASON_FALLS = np.array([1.06, 1.00, 1.00, 0.97, 0.98, 0.97, 0.98, 0.97, 0.97, 1.00, 1.03, 1.07])
SEASON_AMBULANCE = np.array([1.08, 1.00, 1.02, 0.97, 0.98, 0.95, 1.00, 0.97, 0.96, 0.99, 1.00, 1.08])
SEASON_DTOC = np.array([1.10, 1.05, 1.05, 0.95, 0.95, 0.95, 0.95, 0.90, 0.95, 1.00, 1.05, 1.10])
SEASON_ELECTIVE = np.array([0.98, 1.02, 1.04, 0.95, 1.01, 1.02, 1.00, 0.92, 1.02, 1.04, 1.03, 0.85])
SEASON_FLAT = np.ones(12)

# ---- population age structure (relative counts per single year of age, then 90+) ----
_POP_KNOTS = ([0, 4, 5, 15, 16, 18, 19, 21, 22, 24, 25, 29, 30, 44, 45, 54, 55, 59, 60, 64, 65, 69, 70, 74, 75, 79, 80, 84, 85, 89],
              [3450, 3450, 3650, 3650, 3300, 3100, 2300, 2300, 2700, 2700, 3250, 3250, 4000, 4000, 4400, 4400, 3900, 3900, 3400, 3400,
               3500, 3200, 3100, 2900, 2300, 2000, 1650, 1350, 1000, 750])
POP_90_PLUS = 2300.0


def population_age_curve() -> np.ndarray:
    """91 relative counts (0..89, 90+) with the 65+ share of the reference population."""
    curve = np.interp(np.arange(90), *_POP_KNOTS)
    curve = np.append(curve, POP_90_PLUS)
    curve = curve / curve.sum()
    old = np.arange(91) >= 65
    curve[old] *= REFERENCE_POPULATION_65_PLUS_SHARE / curve[old].sum()
    curve[~old] *= (1 - REFERENCE_POPULATION_65_PLUS_SHARE) / curve[~old].sum()
    return curve


def rate_curve(knots_age, knots_rate, min_age: int = 0, max_age: int = 90) -> np.ndarray:
    """Relative event rate per person for ages 0..90 (90 = 90+), zero outside [min_age, max_age]."""
    ages = np.arange(91)
    rate = np.interp(ages, knots_age, knots_rate)
    rate[(ages < min_age) | (ages > max_age)] = 0.0
    return rate


RATE_NEL = rate_curve([0, 1, 5, 15, 20, 30, 45, 60, 70, 80, 90], [8, 2.5, 1.2, 1.5, 2.5, 2.5, 3, 5, 9, 17, 28])
RATE_NEL_ADULT = rate_curve([18, 30, 45, 60, 70, 80, 90], [2.5, 2.5, 3, 5, 9, 17, 28], min_age=18)
RATE_AE = rate_curve([0, 1, 5, 15, 20, 30, 50, 70, 80, 90], [9, 6, 3.5, 4, 5.5, 4, 3.2, 3.8, 6, 9])
RATE_AE_5_PLUS = rate_curve([5, 15, 20, 30, 50, 70, 80, 90], [3.5, 4, 5.5, 4, 3.2, 3.8, 6, 9], min_age=5)
RATE_ELECTIVE = rate_curve([0, 5, 18, 40, 55, 65, 75, 85, 90], [1, 0.8, 1, 2, 4, 6, 7, 4, 2])
RATE_ACSC = rate_curve([0, 15, 30, 50, 65, 75, 85, 90], [0.1, 0.3, 0.8, 2, 5, 9, 14, 16], min_age=1)
RATE_AMBULANCE = rate_curve([0, 5, 18, 30, 60, 75, 85, 90], [2, 1, 2.5, 2.5, 3.5, 7, 13, 18])
RATE_FALLS_65 = rate_curve([65, 75, 85, 90], [1, 2.5, 6, 9], min_age=65)
RATE_RESP_0_4 = rate_curve([0, 1, 2, 3, 4], [6, 3, 1.5, 1, 0.7], max_age=4)
RATE_CARE_HOME = rate_curve([65, 75, 85, 90], [0.3, 2, 8, 15], min_age=65)
RATE_SOCIAL_CARE_ADULT = rate_curve([18, 40, 65, 75, 85, 90], [0.5, 0.6, 1.5, 4, 9, 14], min_age=18)
RATE_UNDER_65_ADULT = rate_curve([18, 64], [1, 1.5], min_age=18, max_age=64)
RATE_WORKING_AGE_WOMEN = rate_curve([16, 25, 32, 40, 45], [0.3, 1.5, 1.5, 0.4, 0.05], min_age=16, max_age=45)
RATE_CARER = rate_curve([25, 45, 65, 80, 90], [0.5, 1.2, 1.5, 1.0, 0.4], min_age=25)
RATE_PRISON = rate_curve([21, 40, 60], [1, 1, 0.3], min_age=21, max_age=60)
READMIT_AGE_FACTOR = np.interp(np.arange(91), [0, 50, 70, 85, 90], [0.7, 0.9, 1.2, 1.4, 1.5])

# ---- HES codes ----
EMERGENCY_ADMIMETH = (["21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D"],
                      [0.72, 0.15, 0.02, 0.04, 0.005, 0.04, 0.01, 0.005, 0.005, 0.005])
ELECTIVE_ADMIMETH = (["11", "12", "13"], [0.60, 0.35, 0.05])
CARE_HOME_ADMISORC = (["54", "55", "56", "65", "85"], [0.05, 0.35, 0.35, 0.10, 0.15])
ADMISORC_GENERAL = (["19", "29", "51", "98", "99"], [0.965, 0.01, 0.005, 0.01, 0.01])
TRETSPEF_EMERGENCY = (["300", "180", "430", "100", "110", "420", "320", "340", "301", "101", "501", "710"],
                      [0.30, 0.10, 0.14, 0.12, 0.08, 0.06, 0.05, 0.05, 0.03, 0.03, 0.02, 0.02])
TRETSPEF_LATER = (["430", "300", "314", "110", "100", "340"], [0.35, 0.25, 0.15, 0.1, 0.1, 0.05])
TRETSPEF_ELECTIVE = (["100", "101", "110", "120", "130", "301", "303", "370", "502", "103"],
                     [0.15, 0.1, 0.15, 0.08, 0.12, 0.1, 0.06, 0.12, 0.07, 0.05])
TRETSPEF_PAEDS = (["420", "420", "171"], [0.8, 0.1, 0.1])
SEX_UNKNOWN_SHARE = 0.003

DIAG_GENERAL = (["R074", "R104", "N390", "J22", "J189", "K359", "A099", "R55", "L031", "K802", "R069", "I639",
                 "I214", "K566", "C349", "R51", "S525", "S610", "K297", "R41"],
                [0.09, 0.09, 0.07, 0.06, 0.06, 0.04, 0.05, 0.05, 0.05, 0.04, 0.04, 0.04,
                 0.04, 0.03, 0.03, 0.04, 0.04, 0.04, 0.05, 0.05])
DIAG_RESP_0_4 = (["J069", "J219", "J209", "J189", "J459", "J039", "J050"], [0.30, 0.30, 0.1, 0.1, 0.08, 0.07, 0.05])
DIAG_FALL_INJURY = (["S720", "S721", "S000", "S010", "S060", "S099", "S420", "S525", "S320", "S224", "T140", "S800"],
                    [0.22, 0.1, 0.08, 0.08, 0.07, 0.07, 0.1, 0.08, 0.07, 0.05, 0.04, 0.04])
DIAG_FALL_CODE = (["W19", "W010", "W180", "W060", "W100", "W080", "W05"], [0.45, 0.2, 0.1, 0.08, 0.07, 0.05, 0.05])
DIAG_ACSC = (["E119", "E109", "E149", "D509", "F03", "F019", "G409", "G419", "I10", "I110", "I130", "I209",
              "I251", "I48", "I500", "I509", "J440", "J441", "J449", "J459", "J46", "J47", "J42", "J81"],
             [0.05, 0.02, 0.02, 0.03, 0.03, 0.02, 0.04, 0.01, 0.03, 0.02, 0.01, 0.06,
              0.05, 0.09, 0.06, 0.06, 0.08, 0.08, 0.05, 0.07, 0.01, 0.02, 0.02, 0.07])
DIAG_CARE_HOME = (["N390", "J189", "J690", "A419", "E86", "F051", "R296", "L89"], [0.22, 0.25, 0.1, 0.1, 0.1, 0.1, 0.08, 0.05])
DIAG_ELECTIVE = (["Z511", "H251", "K409", "M171", "M161", "K635", "D126", "N200", "C509", "Z098", "K921", "N40", "M234"],
                 [0.15, 0.12, 0.08, 0.08, 0.06, 0.08, 0.07, 0.05, 0.06, 0.08, 0.07, 0.05, 0.05])
DIAG_MATERNITY = (["O800", "O470", "O234", "O211", "O342"], [0.4, 0.2, 0.15, 0.15, 0.1])
DIAG_BIRTH = (["Z380", "Z381", "P599", "P073"], [0.8, 0.05, 0.1, 0.05])
DIAG_SECONDARY = (["I10", "E119", "I48", "J449", "N183", "F03", "E785", "Z867", "I251", "K219", "M199", "Z921",
                   "Z864", "E039", "G473", "Z880", "I500", "N390", "D649", "E871"],
                  [0.12, 0.08, 0.07, 0.05, 0.05, 0.04, 0.07, 0.04, 0.05, 0.05, 0.05, 0.04,
                   0.04, 0.05, 0.03, 0.04, 0.03, 0.04, 0.03, 0.03])
DIAG_SECONDARY_CHILD = (["R509", "E86", "Z038", "J069", "L209", "R11", "Z290"], [0.3, 0.15, 0.15, 0.15, 0.1, 0.1, 0.05])
RESP_0_4_AE_CODED_SHARE = 0.25  # admitted respiratory 0-4 whose A&E attendance is coded 25

# ---- A&E codes ----
AE_DIAG2_GENERAL = (["01", "02", "03", "04", "05", "06", "14", "20", "21", "24", "25", "26", "27", "30", "35", "38"],
                    [0.08, 0.07, 0.08, 0.06, 0.07, 0.06, 0.03, 0.06, 0.02, 0.04, 0.06, 0.08, 0.04, 0.04, 0.03, 0.18])
AE_DIAG2_CHILD = (["01", "02", "03", "04", "05", "14", "26", "30", "38"], [0.12, 0.1, 0.12, 0.12, 0.06, 0.06, 0.14, 0.1, 0.18])
AE_DEPTTYPE = (["01", "03", "02", "04", "99"], [0.75, 0.19, 0.03, 0.025, 0.005])
AE_ATTENDCAT = (["1", "2", "3", "9"], [0.96, 0.025, 0.01, 0.005])
AE_DISPOSAL_NOT_ADMITTED = (["02", "03", "04", "05", "06", "07", "10", "12", "13", "14", "99"],
                            [0.45, 0.28, 0.08, 0.05, 0.03, 0.02, 0.001, 0.03, 0.02, 0.019, 0.02])

# ---- ambulance codes ----
AMB_LOCATION_OTHER = (["HOME", "PUBLIC_PLACE", "HEALTHCARE_SETTING", "OTHER"], [0.74, 0.14, 0.04, 0.08])
AMB_CATEGORY = (["1", "2", "3", "4", "HCP"], [0.08, 0.55, 0.27, 0.05, 0.05])
AMB_OUTCOME = (["CONVEY_ED", "CONVEY_OTHER", "SEE_AND_TREAT", "HEAR_AND_TREAT"], [0.55, 0.05, 0.30, 0.10])
HOUR_WEIGHTS = np.array([2.5, 2.2, 2.0, 1.8, 1.6, 1.6, 2.0, 3.0, 4.5, 5.5, 6.0, 6.0,
                         5.8, 5.6, 5.4, 5.3, 5.3, 5.3, 5.2, 5.0, 4.6, 4.0, 3.4, 2.9])

# ---- dtoc ----
DTOC_AGENCY = (["NHS", "Social Care", "Both"], [0.55, 0.35, 0.10])
DTOC_REASONS = (["A", "B", "C", "D(i)", "D(ii)", "E", "F", "G", "H", "I", "Other"],
                [0.12, 0.04, 0.22, 0.1, 0.12, 0.14, 0.03, 0.12, 0.02, 0.03, 0.06])
DTOC_NON_ACUTE_SHARE = 0.3

# ---- social care codes ----
SC_ROUTES_LTS = (["Community / Other Route", "Discharge from Hospital", "Planned Entry", "Diversion from Hospital Services"],
                 [0.55, 0.33, 0.08, 0.04])
SC_ROUTES_REQUEST = (["Community / Other Route", "Discharge from Hospital", "Diversion from Hospital Services", "Planned Entry"],
                     [0.70, 0.18, 0.07, 0.05])
SC_COMMUNITY_COMPONENTS = (["Home Care", "Direct Payment", "Day Care", "Supported Living"], [0.5, 0.25, 0.1, 0.15])
SC_REQUEST_OUTCOMES = (["Assessment", "Signposted to other services", "NFA - No services provided", "Universal services"],
                       [0.5, 0.2, 0.15, 0.15])
SC_ASSESSMENT_OUTCOMES = (["Long Term Support", "Short Term Support", "NFA - No services provided", "NFA - Self-funded"],
                          [0.35, 0.3, 0.25, 0.1])
SC_REAB_OUTCOMES = (["NFA - No services provided", "Ongoing Low Level Support", "Long Term Support", "Short Term Support"],
                    [0.55, 0.2, 0.15, 0.1])

# ---- commissioner answers ----
HICM_CHANGES = ("early_discharge_planning", "systems_to_monitor_patient_flow", "multi_disciplinary_discharge_teams",
                "home_first_discharge_to_assess", "seven_day_service", "trusted_assessors", "focus_on_choice",
                "enhancing_health_in_care_homes")
MATURITY = ("Not yet established", "Plans in place", "Established", "Mature", "Exemplary")
COMMENTARY_METRICS = ("nea", "res65", "reab", "dtoc", "falls65")

# ---- finance (annual plan at the reference population, pounds) ----
FUNDING_ANNUAL = {"CCG_MINIMUM": 18_400_000, "DFG": 2_600_000, "IBCF": 4_800_000, "ADDITIONAL_LA": 900_000, "ADDITIONAL_CCG": 450_000}
SCHEMES = (  # scheme_id, name, funding source, share of that source
    ("S01", "Integrated Health and Care Hubs", "CCG_MINIMUM", 0.22),
    ("S02", "Reablement and rehabilitation", "CCG_MINIMUM", 0.18),
    ("S03", "Home First / Discharge to Assess", "CCG_MINIMUM", 0.14),
    ("S04", "Enhanced Health in Care Homes", "CCG_MINIMUM", 0.10),
    ("S05", "Protection of adult social care", "CCG_MINIMUM", 0.26),
    ("S06", "Carers support", "CCG_MINIMUM", 0.05),
    ("S07", "Assistive technology and telecare", "CCG_MINIMUM", 0.05),
    ("S08", "Disabled Facilities Grant", "DFG", 1.0),
    ("S09", "Improved BCF: market sustainability", "IBCF", 0.55),
    ("S10", "Improved BCF: discharge and flow", "IBCF", 0.45),
    ("S11", "Falls prevention service", "ADDITIONAL_LA", 0.6),
    ("S12", "Trusted assessor", "ADDITIONAL_LA", 0.4),
    ("S13", "Complex care team", "ADDITIONAL_CCG", 1.0),
)
