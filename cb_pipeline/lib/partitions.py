"""The outputs' partitions: one per HWB per UK financial-year quarter (the fan-out unit).

Belongs here: the two-dimensional partitions definition of the return and dashboard assets, the
dynamic `hwb` dimension (registered from the reference lookup), and turning a set of HWBs and
quarters into partition keys or one run's range tags. Does not: quarter arithmetic (periods.py) or
which HWBs have figures (the SQL models decide; the assets skip an HWB without figures).

A key reads `<hwb>|<quarter start>` (`E06000056|2018-10-01`): Dagster orders a key's dimensions by
name. A run's range tags select a rectangle: every HWB from the first to the last (in registration
order) times every quarter from the first to the last, which is how one run renders one quarter
for every HWB (the CLI, the nightly schedule) while a backfill can still split the same
partitions over many runs, processes or pods (BackfillPolicy.multi_run).
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dagster as dg

from .periods import FyQuarter, fy_quarter_partitions

HWB_DIMENSION = "hwb"
QUARTER_DIMENSION = "quarter"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# A backfill of many partitions is split into runs of at most this many (each run one process, or
# one pod on Kubernetes); a run over a range (the CLI, the nightly schedule) is always one run.
PARTITIONS_PER_RUN_ENV = "CB_RETURN_PARTITIONS_PER_RUN"
DEFAULT_PARTITIONS_PER_RUN = 38

hwb_partitions = dg.DynamicPartitionsDefinition(name=HWB_DIMENSION)


def return_partitions() -> dg.MultiPartitionsDefinition:
    return dg.MultiPartitionsDefinition({HWB_DIMENSION: hwb_partitions, QUARTER_DIMENSION: fy_quarter_partitions()})


def return_backfill_policy() -> dg.BackfillPolicy:
    per_run = int(os.environ.get(PARTITIONS_PER_RUN_ENV, DEFAULT_PARTITIONS_PER_RUN))
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=max(1, per_run))


@dataclass(frozen=True, order=True)
class ReturnPartition:
    quarter: FyQuarter
    hwb: str

    @property
    def key(self) -> str:
        return str(dg.MultiPartitionKey({HWB_DIMENSION: self.hwb, QUARTER_DIMENSION: self.quarter.partition_key}))

    @classmethod
    def parse(cls, key: str) -> "ReturnPartition":
        hwb, sep, quarter = str(key).partition("|")
        if not sep:
            raise ValueError(f"{key!r} is not a return partition key (<hwb>|<quarter start>, e.g. E06000056|2018-10-01)")
        return cls(FyQuarter.parse(quarter), hwb)


def hwbs_by_quarter(keys: Iterable[str]) -> dict[FyQuarter, list[str]]:
    """The run's partition keys grouped by quarter (quarters in order, HWBs in key order)."""
    out: dict[FyQuarter, list[str]] = {}
    for part in map(ReturnPartition.parse, keys):
        out.setdefault(part.quarter, []).append(part.hwb)
    return dict(sorted(out.items()))


def register_hwbs(instance: dg.DagsterInstance, codes: Iterable[str]) -> list[str]:
    """Add the HWBs not yet known to the instance (sorted); returns the ones added."""
    known = set(instance.get_dynamic_partitions(HWB_DIMENSION))
    new = sorted({c for c in codes if c} - known)
    if new:
        instance.add_dynamic_partitions(HWB_DIMENSION, new)
    return new


def range_tags(instance: dg.DagsterInstance, hwbs: Sequence[str], quarters: Sequence[FyQuarter]) -> dict[str, str]:
    """Tags for one run over exactly `hwbs` x the quarters from the first to the last.

    The HWBs must be registered and contiguous in the instance's order (every registered HWB is)."""
    order = instance.get_dynamic_partitions(HWB_DIMENSION)
    position = {h: i for i, h in enumerate(order)}
    unknown = [h for h in hwbs if h not in position]
    if unknown:
        raise ValueError(f"HWB(s) {', '.join(unknown)} are not registered partitions (the reference lookup has "
                         f"{len(order)} HWB(s))")
    at = sorted(position[h] for h in set(hwbs))
    if at[-1] - at[0] + 1 != len(at):
        raise ValueError(f"HWBs {', '.join(hwbs)} are not a contiguous block of the registered HWBs "
                         f"({', '.join(order)}): run them one at a time, or all together")
    first, last = min(quarters), max(quarters)
    return {RANGE_START_TAG: ReturnPartition(first, order[at[0]]).key,
            RANGE_END_TAG: ReturnPartition(last, order[at[-1]]).key}


def quarter_of_run(tags: dict[str, str]) -> str | None:
    """The quarter key a run renders, when it renders one (a single partition, or a range within one
    quarter); None for a run over several quarters or none."""
    single = tags.get("dagster/partition")
    ends = [single] if single else [tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)]
    if not all(ends):
        return None
    try:
        quarters = {ReturnPartition.parse(k).quarter for k in ends}
    except ValueError:
        return None
    return quarters.pop().partition_key if len(quarters) == 1 else None
