"""Synthetic geography: the HWBs, their LSOAs, localities, GP practices and population by age.

Belongs here: reading a real LSOA-to-locality lookup (the caller's reference directory) or
generating a synthetic one of the same shape, the per-LSOA single-year-of-age populations
behind every volume, and the ONS-shaped population files of the `population` feed.
Does not: activity (see hospital.py, ambulance.py, social_care.py) or the pipeline's own
reference asset (cb_pipeline/reference reads the lookup this module writes).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import calibration as cal
from .vectors import concat_str, fmt_ints, stream

LOOKUP_COLUMNS = ["lsoa11_code", "lsoa11_name", "msoa11_code", "msoa11_name", "la_code", "la_name", "locality_code", "locality_name"]
AGE_COLUMNS = [str(age) for age in range(90)] + ["90+"]
POPULATION_BASE_YEAR = 2016

SYNTHETIC_FIRST_HWB = ("E06000056", "Central Bedfordshire")
SYNTHETIC_FIRST_LOCALITIES = [("CV", "Chiltern Vale"), ("LB", "Leighton Buzzard"), ("WMB", "West Mid Beds"), ("IV", "Ivel Valley")]
SYNTHETIC_FIRST_LSOAS = 157
SYNTHETIC_FIRST_MSOAS = 33
SYNTHETIC_FIRST_LOCALITY_SHARES = [0.318, 0.153, 0.217, 0.312]


@dataclass
class Hwb:
    """One Health and Wellbeing Board area: its LSOAs (in lookup order) and populations."""

    index: int
    la_code: str
    la_name: str
    lsoa_codes: np.ndarray
    lsoa_names: np.ndarray
    locality_codes: np.ndarray
    pattern: np.ndarray  # per LSOA: provider-mix pattern 0..3 (calibration.PROVIDER_MIX rows)
    practices: list[np.ndarray]  # per locality (sorted locality codes): GP practice codes
    locality_index: np.ndarray  # per LSOA: index of its locality in sorted locality codes
    base_expected: np.ndarray  # (LSOAs, 91) expected persons at POPULATION_BASE_YEAR
    seed: int
    _pop: dict[int, np.ndarray] = field(default_factory=dict)

    def population(self, mid_year: int) -> np.ndarray:
        """(LSOAs, 91) whole-number persons by single year of age (90 = 90+) at mid-year."""
        if mid_year not in self._pop:
            rng = stream(self.seed, "population", self.la_code, mid_year)
            growth = (1 + cal.POPULATION_GROWTH) ** (mid_year - POPULATION_BASE_YEAR)
            self._pop[mid_year] = rng.poisson(self.base_expected * growth).astype(np.int64)
        return self._pop[mid_year]

    def volume_factor(self, fy_start_year: int) -> float:
        """This HWB's size relative to the calibration population, for FY volumes."""
        return float(self.population(fy_start_year - 1).sum()) / cal.REFERENCE_POPULATION


def find_reference(reference_dir: Path) -> Path:
    """The lookup CSV in reference_dir (the first, by name, that has the lookup's columns)."""
    candidates = sorted(Path(reference_dir).glob("*.csv"))
    for path in candidates:
        header = pd.read_csv(path, dtype=str, nrows=0, encoding="utf-8-sig")
        if set(LOOKUP_COLUMNS) <= set(header.columns):
            return path
    raise FileNotFoundError(
        f"no lookup CSV with columns {', '.join(LOOKUP_COLUMNS)} in {reference_dir} "
        f"(found: {', '.join(p.name for p in candidates) or 'no CSV files'})"
    )


def _read_reference(reference_dir: Path) -> pd.DataFrame:
    frame = pd.read_csv(find_reference(reference_dir), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return frame[LOOKUP_COLUMNS].copy()


def _synthetic_lookup(rng: np.random.Generator, la_code: str, la_name: str, n_lsoas: int, n_msoas: int,
                      localities: list[tuple[str, str]], shares: list[float], lsoa_serial: int, msoa_serial: int) -> pd.DataFrame:
    sizes = 3 + rng.multinomial(n_lsoas - 3 * n_msoas, np.full(n_msoas, 1.0 / n_msoas))
    msoa_of_lsoa = np.repeat(np.arange(n_msoas), sizes)
    within = np.arange(n_lsoas) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), dtype=object)[within]
    msoa_numbers = fmt_ints(np.arange(1, n_msoas + 1), 3)
    # localities are contiguous blocks of MSOAs, sized by their share of LSOAs
    position = (np.cumsum(sizes) - sizes / 2) / n_lsoas
    loc_of_msoa = np.searchsorted(np.cumsum(shares)[:-1], position, side="right")
    codes = np.array([c for c, _ in localities], dtype=object)
    names = np.array([n for _, n in localities], dtype=object)
    return pd.DataFrame({
        "lsoa11_code": concat_str("E019", fmt_ints(lsoa_serial + np.arange(n_lsoas), 5)),
        "lsoa11_name": concat_str(f"{la_name} ", msoa_numbers[msoa_of_lsoa], letters),
        "msoa11_code": concat_str("E029", fmt_ints(msoa_serial + msoa_of_lsoa, 5)),
        "msoa11_name": concat_str(f"{la_name} ", msoa_numbers[msoa_of_lsoa]),
        "la_code": la_code,
        "la_name": la_name,
        "locality_code": codes[loc_of_msoa[msoa_of_lsoa]],
        "locality_name": names[loc_of_msoa[msoa_of_lsoa]],
    })


def build_lookup(seed: int, hwbs: int, reference_dir: Path | None) -> pd.DataFrame:
    """The LSOA lookup for every HWB: real (from reference_dir) first, then synthetic ones."""
    parts = []
    lsoa_serial, msoa_serial = 1, 1
    if reference_dir is not None:
        parts.append(_read_reference(reference_dir))
    else:
        rng = stream(seed, "lookup", 1)
        parts.append(_synthetic_lookup(rng, *SYNTHETIC_FIRST_HWB, SYNTHETIC_FIRST_LSOAS, SYNTHETIC_FIRST_MSOAS,
                                       SYNTHETIC_FIRST_LOCALITIES, SYNTHETIC_FIRST_LOCALITY_SHARES, lsoa_serial, msoa_serial))
        lsoa_serial += SYNTHETIC_FIRST_LSOAS
        msoa_serial += SYNTHETIC_FIRST_MSOAS
    n_existing = parts[0]["la_code"].nunique()
    for number in range(n_existing + 1, max(hwbs, n_existing) + 1):
        rng = stream(seed, "lookup", number)
        n_lsoas = int(rng.integers(100, 301))
        n_msoas = max(4, int(round(n_lsoas / 4.75)))
        localities = [(f"L{k}", f"Locality {k}") for k in range(1, 5)]
        shares = list(rng.dirichlet([8.0, 8.0, 8.0, 8.0]))
        parts.append(_synthetic_lookup(rng, f"E069{number:05d}", f"Synthetic HWB {number:03d}", n_lsoas, n_msoas,
                                       localities, shares, lsoa_serial, msoa_serial))
        lsoa_serial += n_lsoas
        msoa_serial += n_msoas
    return pd.concat(parts, ignore_index=True)[LOOKUP_COLUMNS]


def build_hwbs(seed: int, lookup: pd.DataFrame) -> list[Hwb]:
    curve = cal.population_age_curve()
    result = []
    practice_serial = 1
    la_codes = list(dict.fromkeys(lookup["la_code"]))
    for index, la_code in enumerate(la_codes):
        rows = lookup[lookup["la_code"] == la_code]
        rng = stream(seed, "geography", la_code)
        n = len(rows)
        loc_codes = rows["locality_code"].to_numpy(dtype=object)
        unique_locs = sorted(set(loc_codes))
        loc_index = np.array([unique_locs.index(c) for c in loc_codes]) if n else np.zeros(0, dtype=np.int64)
        fallback = {code: i % 4 for i, code in enumerate(unique_locs)}
        pattern_of_loc = np.array([cal.LOCALITY_PATTERNS.get(code, fallback[code]) for code in unique_locs])
        practices = []
        for k in range(len(unique_locs)):
            count = max(2, int(round((loc_index == k).sum() / 5)))
            practices.append(concat_str("Z", fmt_ints(practice_serial + np.arange(count), 5)))
            practice_serial += count
        # population: LSOA sizes and an LSOA-specific lean towards older or younger residents
        if index == 0:  # the calibration HWB (Central Bedfordshire, real or synthetic LSOAs)
            total = cal.REFERENCE_POPULATION / (1 + cal.POPULATION_GROWTH) ** (2017 - POPULATION_BASE_YEAR)
        else:
            total = n * 1800.0 * float(rng.lognormal(0.0, 0.1))
        sizes = rng.lognormal(0.0, 0.2, size=n)
        sizes = total * sizes / sizes.sum()
        ages = np.arange(91)
        old = rng.lognormal(-0.045, 0.3, size=n)[:, None] ** (ages >= 65)[None, :]
        young = rng.lognormal(-0.0072, 0.12, size=n)[:, None] ** (ages < 16)[None, :]
        profile = curve[None, :] * old * young
        profile /= profile.sum(axis=1, keepdims=True)
        result.append(Hwb(
            index=index, la_code=la_code, la_name=str(rows["la_name"].iloc[0]),
            lsoa_codes=rows["lsoa11_code"].to_numpy(dtype=object), lsoa_names=rows["lsoa11_name"].to_numpy(dtype=object),
            locality_codes=loc_codes, pattern=pattern_of_loc[loc_index], practices=practices, locality_index=loc_index,
            base_expected=sizes[:, None] * profile, seed=seed,
        ))
    return result


def _count_text(counts: np.ndarray) -> np.ndarray:
    return concat_str(fmt_ints(counts.ravel()), ".0").reshape(counts.shape)


def population_frames(hwbs: list[Hwb], mid_year: int) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The ONS-shaped LSOA file (all HWBs) and one UTLA file per HWB for a mid-year, as text."""
    lsoa_parts, utla = [], {}
    for hwb in hwbs:
        pop = hwb.population(mid_year)
        lsoa = pd.DataFrame(_count_text(pop), columns=AGE_COLUMNS)
        lsoa.insert(0, "total_population", _count_text(pop.sum(axis=1)))
        lsoa.insert(0, "lsoa11_code", hwb.lsoa_codes)
        lsoa.insert(0, "lsoa11_name", hwb.lsoa_names)
        lsoa_parts.append(lsoa)
        totals = pop.sum(axis=0)
        row = pd.DataFrame(_count_text(totals[None, :]), columns=AGE_COLUMNS)
        row.insert(0, "total_population", _count_text(np.array([totals.sum()])))
        row.insert(0, "utla20_name", hwb.la_name)
        row.insert(0, "utla20_code", hwb.la_code)
        utla[hwb.la_code] = row
    return pd.concat(lsoa_parts, ignore_index=True), utla
