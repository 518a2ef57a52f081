"""Code lists of feeds.md (and the NHS Data Dictionary where feeds.md says "e.g.").

Belongs here: sets of allowed codes shared by more than one feed. Does not: rules (spec.py).
"""

SEX = frozenset({"0", "1", "2", "9"})
# NHS Data Dictionary "source of admission" (feeds.md lists examples only).
ADMISORC = frozenset({"19", "29", "37", "39", "40", "41", "42", "49", "51", "52", "53", "54", "55", "56", "65",
                      "66", "69", "79", "85", "86", "87", "88", "98", "99"})
ADMIMETH = frozenset({"11", "12", "13", "21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D", "31", "32",
                      "81", "82", "83", "98", "99"})
CLASSPAT = frozenset({"1", "2", "3", "4", "5", "8", "9"})
DISMETH = frozenset({"1", "2", "3", "4", "5", "8", "9"})
DISDEST = frozenset({"19", "29", "30", "37", "38", "40", "42", "48", "49", "50", "51", "52", "53", "54", "55", "56",
                     "65", "66", "79", "84", "85", "87", "88", "89", "98", "99"})
AEATTENDCAT = frozenset({"1", "2", "3", "9"})
AEARRIVALMODE = frozenset({"1", "2", "9"})
AEDEPTTYPE = frozenset({"01", "02", "03", "04", "99"})
AEATTENDDISP = frozenset({"01", "02", "03", "04", "05", "06", "07", "10", "12", "13", "14", "99"})
METRIC_IDS = frozenset({"nea", "res65", "reab", "dtoc", "falls65", "dupr", "acsc", "dash_ae_att", "dash_ed_resp_0_4",
                        "dash_nel", "dash_nel_resp_0_4", "dash_readm30", "dash_dtoc", "dash_ch_callout",
                        "dash_ch_convey", "dash_ch_admit"})
