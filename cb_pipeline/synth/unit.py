"""The generation unit (one HWB for the months of one financial year) and delivery calendars.

Belongs here: what every feed module needs to know about the slice it is generating (HWB,
months, range end, volume factor, random streams, identifier counters that continue across
units), and the rules that turn a date into a delivery (file name and run date).
Does not: feed contents, defects, or writing files (writer.py).
"""

from dataclasses import dataclass, field

import numpy as np

from . import calibration as cal
from .geography import Hwb
from .people import People
from .vectors import DAY, Month, fy_label, stream


PERSON_BLOCK = 20_000_000  # person serials per unit (a pass of scale <= 5 needs well under 2 million)


@dataclass
class HwbState:
    """Counters that continue across the units of one HWB so that keys never repeat."""

    next_serial: dict[str, int] = field(default_factory=dict)

    def take(self, name: str, n: int) -> np.ndarray:
        start = self.next_serial.get(name, 1)
        self.next_serial[name] = start + n
        return start + np.arange(n, dtype=np.int64)


@dataclass
class Unit:
    seed: int
    hwb: Hwb
    fy: int
    months: list[Month]  # months of this FY inside the range
    all_months: list[Month]  # the whole range
    scale: float
    state: HwbState
    first_of_hwb: bool  # first FY generated for this HWB (care home stock is created here)
    first_of_run: bool  # first unit of the run (corrections and the missing-column deliveries)
    replica: int = 0  # pass number when a large scale is generated in several passes
    _people: People | None = field(default=None, repr=False)

    @property
    def people(self) -> People:
        """The unit's people (created on first use, so units that make no patient rows take no ids)."""
        if self._people is None:
            base = int(self.state.take("person_block", 1)[0]) * PERSON_BLOCK
            self._people = People(self.rng("people"), self.hwb, base)
        return self._people

    def rng(self, name: str) -> np.random.Generator:
        extra = (self.replica,) if self.replica else ()
        return stream(self.seed, name, self.hwb.la_code, self.fy, *extra)

    @property
    def mid_year(self) -> int:
        return self.fy - 1

    @property
    def fy_label(self) -> str:
        return fy_label(self.fy)

    @property
    def factor(self) -> float:
        """Volume multiplier: HWB size x scale x activity growth."""
        growth = (1 + cal.VOLUME_GROWTH) ** (self.fy - cal.FIRST_CALIBRATED_FY)
        return self.hwb.volume_factor(self.fy) * self.scale * growth

    @property
    def size_factor(self) -> float:
        return self.hwb.volume_factor(self.fy) * self.scale

    @property
    def start(self) -> np.datetime64:
        return self.months[0].start

    @property
    def end(self) -> np.datetime64:
        """Last day of this unit's months."""
        return self.months[-1].next_start - DAY

    @property
    def range_start(self) -> np.datetime64:
        return self.all_months[0].start

    @property
    def range_end(self) -> np.datetime64:
        return self.all_months[-1].next_start - DAY


# ---------------------------------------------------------------- delivery calendars


def month_index(dates: np.ndarray) -> np.ndarray:
    """Months since 1970-01 for each date."""
    return np.asarray(dates, dtype="M8[D]").astype("M8[M]").astype(np.int64)


def monthly_delivery(dates: np.ndarray, all_months: list[Month], delay_days: int, time: str, name_fmt: str,
                     supplier: np.ndarray | str) -> tuple[np.ndarray, np.ndarray]:
    """(file name, run date) for rows delivered monthly, a few days after the month of `dates`.

    Dates before the range go to the first month's delivery, after it to the last one's.
    `name_fmt` gets {ts} and {supplier} and {period}.
    """
    first = all_months[0].start.astype("M8[M]").astype(np.int64)
    last = all_months[-1].start.astype("M8[M]").astype(np.int64)
    m = np.clip(month_index(dates), first, last)
    run = (m + 1).astype("M8[M]").astype("M8[D]") + (delay_days - 1) * DAY
    return _names(run, m, time, name_fmt, supplier, period_kind="month"), run


def quarterly_delivery(dates: np.ndarray, all_months: list[Month], delay_days: int, time: str, name_fmt: str,
                       supplier: np.ndarray | str) -> tuple[np.ndarray, np.ndarray]:
    first = all_months[0].start.astype("M8[M]").astype(np.int64)
    last = all_months[-1].start.astype("M8[M]").astype(np.int64)
    m = np.clip(month_index(dates), first, last)
    q_start = m - (m % 3)  # calendar quarters coincide with FY quarters
    run = (q_start + 3).astype("M8[M]").astype("M8[D]") + (delay_days - 1) * DAY
    return _names(run, q_start, time, name_fmt, supplier, period_kind="quarter"), run


def _names(run: np.ndarray, period_month: np.ndarray, time: str, name_fmt: str, supplier, period_kind: str) -> np.ndarray:
    # few distinct (run, period, supplier) combinations: format each once, then map back
    sup = np.broadcast_to(np.asarray(supplier, dtype=object), run.shape)
    combos, inverse = np.unique(np.stack([run.astype(np.int64), period_month, _codes(sup)]), axis=1, return_inverse=True)
    uniq_sup = np.unique(sup.astype(str)) if len(sup) else np.array([], dtype=str)
    names = []
    for run_day, pm, sup_code in combos.T:
        day = np.datetime64(int(run_day), "D")
        year, month = divmod(int(pm), 12)
        year += 1970
        month += 1
        if period_kind == "month":
            period = f"{year:04d}-{month:02d}"
        else:
            fy = year if month >= 4 else year - 1
            period = f"{fy_label(fy)}-Q{(month - 4) % 12 // 3 + 1}"
        ts = str(day).replace("-", "") + "T" + time
        names.append(name_fmt.format(ts=ts, supplier=uniq_sup[sup_code] if len(uniq_sup) else "", period=period))
    return np.asarray(names, dtype=object)[inverse.ravel()] if len(run) else np.array([], dtype=object)


def _codes(values: np.ndarray) -> np.ndarray:
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    return np.unique(values.astype(str), return_inverse=True)[1].ravel()


def timestamp(day, time: str) -> str:
    """`YYYYMMDDTHHMM` for a date (numpy, pandas or datetime) and a time of day `HHMM`."""
    return str(np.datetime64(day, "D")).replace("-", "") + "T" + time
