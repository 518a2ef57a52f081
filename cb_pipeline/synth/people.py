"""Synthetic people: who the rows of every patient-level feed are about.

Belongs here: drawing residents (LSOA and age, weighted by population and an age-specific
rate), and giving each person the identifiers and attributes the feeds carry (NHS number,
PSEUDO_HESID, council client id, date of birth, sex, LSOA, GP practice, and which feeds do
not know their NHS number). Does not: events (the feed modules decide what happens to whom).
"""

import numpy as np

from . import calibration as cal
from .geography import Hwb
from .vectors import concat_str, dob_for_age, fmt_ints, hex_ids, nhs_numbers


class People:
    """The people of one HWB for one generation unit; `add` returns their person ids (pids)."""

    def __init__(self, rng: np.random.Generator, hwb: Hwb, serial_start: int):
        self.rng = rng
        self.hwb = hwb
        self.serial_start = serial_start
        self._parts: list[dict[str, np.ndarray]] = []
        self._count = 0
        self._table: dict[str, np.ndarray] | None = None
        flat = np.concatenate(hwb.practices)
        self._practice_flat = flat
        self._practice_count = np.array([len(p) for p in hwb.practices])
        self._practice_offset = np.cumsum(self._practice_count) - self._practice_count

    def sample(self, n: int, rate: np.ndarray, mid_year: int) -> tuple[np.ndarray, np.ndarray]:
        """(lsoa index, age) of n residents drawn with probability population x rate(age)."""
        pop = self.hwb.population(mid_year)
        weight = (pop * rate[None, :]).ravel().astype(float)
        if n == 0 or weight.sum() <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        cell = self.rng.choice(weight.size, size=n, p=weight / weight.sum())
        lsoa, age = np.divmod(cell, 91)
        old = age == 90
        age[old] = 90 + np.minimum(self.rng.geometric(0.22, size=old.sum()) - 1, 14)
        return lsoa, age

    def add(self, lsoa: np.ndarray, age: np.ndarray, at: np.ndarray, *, female: np.ndarray | None = None,
            dob: np.ndarray | None = None) -> np.ndarray:
        """New people of `age` on date `at`, living in LSOA index `lsoa` (-1 = unknown)."""
        n = len(lsoa)
        rng = self.rng
        age = np.asarray(age, dtype=np.int64)
        if dob is None:
            dob = dob_for_age(rng, age, np.asarray(at, dtype="M8[D]"))
        if female is None:
            p_female = np.interp(age, [0, 15, 16, 64, 65, 84, 85], [0.49, 0.49, 0.5, 0.5, 0.57, 0.6, 0.68])
            female = rng.random(n) < p_female
        lsoa = np.asarray(lsoa, dtype=np.int64).copy()
        lsoa[rng.random(n) < cal.PERSON_NO_LSOA] = -1
        loc = np.where(lsoa >= 0, self.hwb.locality_index[np.maximum(lsoa, 0)] if len(self.hwb.locality_index) else 0, 0)
        pick = self._practice_offset[loc] + (rng.random(n) * self._practice_count[loc]).astype(np.int64)
        serial = self.serial_start + self._count + np.arange(n)
        part = {
            "nhs": nhs_numbers(rng, n),
            "hesid": hex_ids(rng, n, 20),
            "la_id": concat_str("LAP", fmt_ints(serial, 10)),
            "dob": np.asarray(dob, dtype="M8[D]"),
            "sex": np.where(female, "2", "1").astype(object),
            "lsoa_idx": lsoa,
            "lsoa": np.where(lsoa >= 0, self.hwb.lsoa_codes[np.maximum(lsoa, 0)], "").astype(object),
            "pattern": np.where(lsoa >= 0, self.hwb.pattern[np.maximum(lsoa, 0)], 0),
            "practice": self._practice_flat[pick],
            "u_health": rng.random(n),  # below a feed's share: that feed has no NHS number for them
            "u_council": rng.random(n),
        }
        self._parts.append(part)
        self._table = None
        pids = self._count + np.arange(n)
        self._count += n
        return pids

    def __len__(self) -> int:
        return self._count

    @property
    def table(self) -> dict[str, np.ndarray]:
        if self._table is None:
            keys = self._parts[0].keys() if self._parts else []
            self._table = {k: np.concatenate([p[k] for p in self._parts]) for k in keys}
        return self._table
