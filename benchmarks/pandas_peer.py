"""The comparator an analyst would write: nea, falls65 and dash_readm30 in plain pandas.

Belongs here: a straightforward, single-process pandas implementation over the same landing-zone
CSVs, used only to time the pipeline against (benchmarks/england.py). It is deliberately what an
analyst would write (read every file whole, filter, group), not the product's logic: the product's
metrics live in dbt_like_sql/ only. Quarantine rules are not applied here beyond what the metric
filters imply, so its counts are close to, not equal to, the product's.
"""

import sys
from pathlib import Path

import pandas as pd

NEA_METHODS = {"21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D", "81"}
EXCLUDED_TRETSPEF = ({"199", "223", "290", "291", "331", "344", "345", "346", "424", "499", "501", "504", "560",
                      "840", "920"} | {str(x) for x in range(650, 663)} | {str(x) for x in range(700, 800)})


def run(landing: Path, reference: Path) -> pd.DataFrame:
    lookup = pd.read_csv(next(reference.glob("*.csv")), dtype=str)[["lsoa11_code", "la_code"]]
    files = sorted((landing / "hes_apc").glob("*.csv"))
    cols = ["EPIKEY", "PROCODE3", "PSEUDO_HESID", "NHSNUMBER", "ADMIDATE", "DISDATE", "EPIORDER", "ADMIMETH",
            "ADMISORC", "DISMETH", "STARTAGE", "LSOA11", "TRETSPEF"] + [f"DIAG_4_{i:02d}" for i in range(1, 21)]
    frames = []
    for f in files:
        try:
            frames.append(pd.read_csv(f, dtype=str, usecols=lambda c: c in cols, keep_default_na=False))
        except ValueError:
            continue  # a delivery without the columns: the analyst skips it
    apc = pd.concat(frames, ignore_index=True).drop_duplicates("EPIKEY", keep="last")
    apc["ADMIDATE"] = pd.to_datetime(apc["ADMIDATE"], errors="coerce", format="%Y-%m-%d")
    apc["DISDATE"] = pd.to_datetime(apc["DISDATE"], errors="coerce", format="%Y-%m-%d")
    age = pd.to_numeric(apc["STARTAGE"], errors="coerce")
    apc["AGE"] = age.where(~age.between(7001, 7007), 0)
    apc = apc.merge(lookup, left_on="LSOA11", right_on="lsoa11_code", how="inner")
    apc["QUARTER"] = apc["ADMIDATE"].dt.to_period("Q-MAR")
    first = apc[apc["EPIORDER"].isin(["1", "1.0"])]
    emergency = first["ADMIMETH"].str.startswith("2")

    nea = first[first["ADMIMETH"].isin(NEA_METHODS) & ~first["TRETSPEF"].isin(EXCLUDED_TRETSPEF)]
    out = [nea.groupby(["la_code", "QUARTER"]).size().rename("nea")]

    diag = first[[f"DIAG_4_{i:02d}" for i in range(2, 21)]]
    fall = diag.apply(lambda c: c.str.match(r"W[01]\d"), axis=0).any(axis=1)
    d1 = first["DIAG_4_01"]
    injury = d1.str.startswith("S") | (d1.str.startswith("T") & (pd.to_numeric(d1.str[1:3], errors="coerce") <= 98))
    falls = first[emergency & (first["AGE"] >= 65) & injury & fall]
    out.append(falls.groupby(["la_code", "QUARTER"]).size().rename("falls65"))

    spells = first[emergency & ~first["ADMISORC"].isin(["51", "52", "53"])].copy()
    spells["PERSON"] = spells["PSEUDO_HESID"].where(spells["PSEUDO_HESID"] != "", spells["NHSNUMBER"])
    spells = spells[spells["PERSON"] != ""]
    prior = first[first["DISDATE"].notna() & ~first["DISMETH"].isin(["4", "5"])].copy()
    prior["PERSON"] = prior["PSEUDO_HESID"].where(prior["PSEUDO_HESID"] != "", prior["NHSNUMBER"])
    pairs = spells[["EPIKEY", "PERSON", "ADMIDATE", "la_code", "QUARTER"]].merge(
        prior[["EPIKEY", "PERSON", "DISDATE"]], on="PERSON", suffixes=("", "_p"))
    gap = (pairs["ADMIDATE"] - pairs["DISDATE"]).dt.days
    readm = pairs[(gap >= 0) & (gap <= 30) & (pairs["EPIKEY"] != pairs["EPIKEY_p"])].drop_duplicates("EPIKEY")
    out.append(readm.groupby(["la_code", "QUARTER"]).size().rename("dash_readm30"))
    return pd.concat(out, axis=1).fillna(0).astype(int)


if __name__ == "__main__":
    result = run(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"pandas peer: {len(result)} HWB-quarters; totals {result.sum().to_dict()}")
