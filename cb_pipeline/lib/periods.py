"""UK financial-year quarters: parsing, labels, and the Dagster partitions definition.

Belongs here: conversions between the forms a quarter is written in (`2018-19-Q3`, `2018-19 Q3`,
the partition key `2018-10-01`). Does not: which quarters have data (the SQL models decide).
"""

import datetime as dt
import re
from dataclasses import dataclass

import dagster as dg

FIRST_PARTITION = "2015-04-01"
_CLI_FORM = re.compile(r"^(\d{4})-(\d{2})[- ]Q([1-4])$")


@dataclass(frozen=True, order=True)
class FyQuarter:
    fy_start_year: int  # 2018 for 2018-19
    number: int  # 1..4

    @property
    def start(self) -> dt.date:
        month = 4 + 3 * (self.number - 1)
        year = self.fy_start_year + (month - 1) // 12
        return dt.date(year, (month - 1) % 12 + 1, 1)

    @property
    def end(self) -> dt.date:
        return (self.next().start - dt.timedelta(days=1))

    @property
    def fy_label(self) -> str:
        return f"{self.fy_start_year}-{(self.fy_start_year + 1) % 100:02d}"

    @property
    def label(self) -> str:
        return f"{self.fy_label} Q{self.number}"

    @property
    def cli_form(self) -> str:
        return f"{self.fy_label}-Q{self.number}"

    @property
    def partition_key(self) -> str:
        return self.start.isoformat()

    def next(self) -> "FyQuarter":
        return FyQuarter(self.fy_start_year + self.number // 4, self.number % 4 + 1)

    def previous(self) -> "FyQuarter":
        if self.number == 1:
            return FyQuarter(self.fy_start_year - 1, 4)
        return FyQuarter(self.fy_start_year, self.number - 1)

    @classmethod
    def containing(cls, day: dt.date) -> "FyQuarter":
        fy = day.year if day.month >= 4 else day.year - 1
        return cls(fy, (day.month - 4) % 12 // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> "FyQuarter":
        """Accepts `2018-19-Q3`, `2018-19 Q3` or the partition key `2018-10-01`."""
        text = text.strip()
        match = _CLI_FORM.match(text)
        if match:
            start, end, number = int(match[1]), int(match[2]), int(match[3])
            if (start + 1) % 100 != end:
                raise ValueError(f"{text!r}: {start}-{end:02d} is not a financial year (expected {start}-{(start + 1) % 100:02d})")
            return cls(start, number)
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a quarter: use 2018-19-Q3 or a quarter start date such as 2018-10-01") from None
        quarter = cls.containing(day)
        if quarter.start != day:
            raise ValueError(f"{text!r} is not a quarter start date (did you mean {quarter.partition_key}?)")
        return quarter

    @classmethod
    def latest_complete(cls, today: dt.date) -> "FyQuarter":
        return cls.containing(today).previous()


def fy_quarter_partitions(end_offset: int = 0) -> dg.TimeWindowPartitionsDefinition:
    # Cron "first day of Jan/Apr/Jul/Oct" gives UK financial-year quarters; the key is the start date.
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 1 1,4,7,10 *",
        start=FIRST_PARTITION,
        fmt="%Y-%m-%d",
        timezone="Europe/London",
        end_offset=end_offset,
    )


def quarter_label_for_key(partition_key: str) -> str:
    return FyQuarter.parse(partition_key).label
