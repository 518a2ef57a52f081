"""Synthetic landing zone generator: realistic, reproducible input for every feed of feeds.md.

Belongs here: the public entry point `generate_landing_zone` (what `cb-pipeline synth` calls)
and its result `SynthSummary`; the order in which the feed modules run for each unit (one HWB x
one financial year) and what is written where. Does not: any pipeline logic (ingest, metrics,
the return) - this package only makes data, and tests of the pipeline must not take expected
figures from it. Calibration numbers live in calibration.py; bad input in defects.py.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from . import ambulance, dtoc, finance_plan, hospital, social_care
from .defects import missing_column_delivery, plant
from .geography import build_hwbs, build_lookup, find_reference, population_frames
from .inputs import answers, render
from .unit import HwbState, Unit
from .vectors import month_range, stream
from .writer import FEEDS, LandingWriter

__all__ = ["SynthSummary", "generate_landing_zone", "FEEDS"]

MAX_SCALE_PER_PASS = 5.0  # patient-level rows of one HWB and FY are made in passes of at most this scale


@dataclass
class SynthSummary:
    """What generate_landing_zone wrote: where, for which HWBs and months, how many rows, how long it took."""

    out_dir: Path
    landing_dir: Path
    reference_path: Path
    manifest_path: Path
    hwb_codes: list[str]
    start: str
    end: str
    rows: dict[str, int]  # data rows written per feed folder (every delivery, incl. resubmissions and defective ones)
    files: dict[str, int] = field(repr=False)  # path relative to out_dir -> data rows
    defects: dict[str, dict[str, int]] = field(repr=False)  # feed -> defect kind -> rows planted
    elapsed_seconds: float = 0.0


def _check(start: str, end: str, hwbs: int, scale: float, defects: float):
    months = month_range(start, end)  # raises ValueError with a clear message
    if int(hwbs) != hwbs or hwbs < 1:
        raise ValueError(f"hwbs must be a whole number >= 1, got {hwbs!r}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    if not 0 <= defects <= 0.5:
        raise ValueError(f"defects must be a share between 0 and 0.5, got {defects!r}")
    return months


def generate_landing_zone(out_dir: Path, *, start: str = "2017-04", end: str = "2019-03", seed: int = 20181105,
                          hwbs: int = 1, scale: float = 1.0, defects: float = 0.0,
                          reference_dir: Path | None = None,
                          progress: Callable[[str], None] | None = print) -> SynthSummary:
    """Write a synthetic landing zone to out_dir/landing and its LSOA lookup to out_dir/reference.

    Same arguments -> byte-identical files. `scale` multiplies activity volumes (not the
    population); `defects` replaces that share of rows with bad rows of every kind.
    """
    started = time.perf_counter()
    say = progress or (lambda message: None)
    months = _check(start, end, hwbs, scale, defects)
    out_dir = Path(out_dir)
    reference_dir = Path(reference_dir) if reference_dir is not None else None
    fys = sorted({m.fy_start_year for m in months})

    lookup = build_lookup(seed, hwbs, reference_dir)
    areas = build_hwbs(seed, lookup)
    writer = LandingWriter(out_dir)
    planted: dict[str, dict[str, int]] = {}

    def count(feed: str, kinds: dict[str, int]) -> None:
        target = planted.setdefault(feed, {})
        for kind, n in kinds.items():
            target[kind] = target.get(kind, 0) + n

    # reference lookup: the real file byte for byte when it is the whole lookup
    reference_rel = "reference/lsoa_localities.csv"
    source = find_reference(reference_dir) if reference_dir is not None else None
    if source is not None and len(lookup) == len(pd.read_csv(source, dtype=str, encoding="utf-8-sig")):
        writer.write_bytes(reference_rel, source.read_bytes(), len(lookup))
    else:
        writer.write_csv(reference_rel, lookup)
    say(f"synth: {len(areas)} HWB(s), {len(lookup)} LSOAs, {months[0].label} to {months[-1].label}, seed {seed}, scale {scale}")

    # population: mid-year Y-1 for each FY starting April Y
    for i, mid_year in enumerate(sorted({fy - 1 for fy in fys})):
        lsoa_frame, utla_frames = population_frames(areas, mid_year)
        if defects > 0:
            lsoa_frame["_delivery"] = "population"
            lsoa_frame, kinds = plant("population", lsoa_frame, defects, stream(seed, "defects", "population", mid_year))
            lsoa_frame = lsoa_frame.drop(columns=["_delivery"])
            count("population", kinds)
        writer.write_csv(f"landing/population/ons_mye_mid-{mid_year}_lsoa11_synthetic.csv", lsoa_frame)
        for code, frame in utla_frames.items():
            writer.write_csv(f"landing/population/ons_mye_mid-{mid_year}_utla_{code}.csv", frame)
        if defects > 0 and i == 0:
            code, frame = next(iter(utla_frames.items()))
            writer.write_csv(f"landing/population/ons_mye_mid-{mid_year}_utla_{code}_incomplete.csv",
                             frame.drop(columns=["total_population"]))
            count("population", {"missing_required_column": len(frame)})

    columns = {
        "hes_apc": hospital.APC_COLUMNS, "hes_ae": hospital.AE_COLUMNS, "ambulance": ambulance.COLUMNS,
        "social_care": social_care.COLUMNS, "dtoc": dtoc.COLUMNS, "finance": finance_plan.FINANCE_COLUMNS,
        "plan": finance_plan.PLAN_COLUMNS,
    }
    keys = {"hes_apc": hospital.APC_KEY, "hes_ae": hospital.AE_KEY, "ambulance": ambulance.KEY, "social_care": social_care.KEY}

    def finish(unit: Unit, frames: dict[str, pd.DataFrame]) -> None:
        """Corrections (first unit only), defects, then write the unit's frames."""
        resends: dict[str, pd.DataFrame] = {}
        if unit.first_of_run:  # later deliveries that re-send a few keys with a corrected value
            rng = unit.rng("corrections")
            if "hes_apc" in frames:
                apc = frames["hes_apc"]
                frames["hes_apc"], resends["hes_apc"] = hospital.correction(
                    apc, rng, "DISDEST", "99", ((apc["SPELEND"] == "Y") & (apc["DISDEST"] != "99")).to_numpy(), "apc")
            if "hes_ae" in frames:
                ae = frames["hes_ae"]
                frames["hes_ae"], resends["hes_ae"] = hospital.correction(
                    ae, rng, "AEATTENDDISP", "99", (ae["AEATTENDDISP"] != "99").to_numpy(), "ae")
            if "ambulance" in frames:
                frames["ambulance"], resends["ambulance"] = ambulance.correction(frames["ambulance"], rng)
            if "dtoc" in frames:
                frames["dtoc"], resends["dtoc"] = dtoc.correction(frames["dtoc"], rng)
        if defects > 0:
            for feed, frame in frames.items():
                rng = unit.rng(f"defects_{feed}")
                if unit.first_of_run and len(frame):  # one delivery per feed that lacks a required column
                    frame, bad, dropped = missing_column_delivery(feed, frame, rng, rows=max(2, min(20, len(frame) // 20)))
                    writer.write_deliveries(feed, bad, [c for c in columns[feed] if c != dropped])
                    count(feed, {"missing_required_column": len(bad)})
                protect = None  # rows re-sent by a correction stay clean, so supersede is unambiguous
                if feed in keys and feed in resends:
                    protect = frame[keys[feed]].isin(resends[feed][keys[feed]]).to_numpy()
                frame, kinds = plant(feed, frame, defects, rng, protect)
                count(feed, kinds)
                frames[feed] = frame
        for feed, frame in list(frames.items()) + list(resends.items()):
            writer.write_deliveries(feed, frame, columns[feed])

    passes = max(1, math.ceil(scale / MAX_SCALE_PER_PASS))  # bounds memory: big scales run as several passes
    for area in areas:
        state = HwbState()
        for number, fy in enumerate(fys):
            unit_started = time.perf_counter()
            whole = Unit(seed=seed, hwb=area, fy=fy, months=[m for m in months if m.fy_start_year == fy], all_months=months,
                         scale=scale, state=state, first_of_hwb=number == 0, first_of_run=number == 0 and area.index == 0)
            council = {"dtoc": dtoc.generate(whole), "finance": finance_plan.finance(whole), "plan": finance_plan.plan(whole)}
            written = {feed: len(frame) for feed, frame in council.items()}
            finish(whole, council)
            for replica in range(passes):
                unit = whole if passes == 1 else replace(whole, scale=scale / passes, replica=replica,
                                                         first_of_run=whole.first_of_run and replica == 0)
                amb, conveyed = ambulance.generate(unit)
                spells = hospital.build_spells(unit, conveyed)
                care, follow_up = social_care.build(unit, spells)
                if follow_up is not None:
                    spells = pd.concat([spells, follow_up], ignore_index=True)
                patients = {"hes_apc": hospital.episodes(unit, spells), "hes_ae": hospital.attendances(unit, spells),
                            "ambulance": amb, "social_care": care}
                for feed, frame in patients.items():
                    written[feed] = written.get(feed, 0) + len(frame)
                del spells, amb, care, conveyed, follow_up
                finish(unit, patients)
                del patients, unit
            for q in sorted({m.fy_quarter for m in whole.months}):
                doc = answers(seed, area.la_code, area.la_name, fy, q)
                writer.write_text(f"landing/inputs/{area.la_code}/{whole.fy_label}-Q{q}.yaml", render(doc))
            say(f"synth: {area.la_code} {whole.fy_label}: " + ", ".join(f"{feed} {n:,}" for feed, n in written.items())
                + f" rows ({time.perf_counter() - unit_started:.1f}s)")

    settings = {"start": months[0].label, "end": months[-1].label, "seed": seed, "hwbs": hwbs, "scale": scale,
                "defects": defects, "reference": str(reference_dir) if reference_dir is not None else None}
    manifest = writer.write_manifest(settings)
    summary = SynthSummary(
        out_dir=out_dir, landing_dir=writer.landing, reference_path=out_dir / reference_rel, manifest_path=manifest,
        hwb_codes=[a.la_code for a in areas], start=months[0].label, end=months[-1].label, rows=writer.rows_by_feed(),
        files=dict(writer.files), defects=planted, elapsed_seconds=round(time.perf_counter() - started, 3),
    )
    say(f"synth: wrote {len(writer.files)} files to {out_dir} in {summary.elapsed_seconds:.1f}s: "
        + ", ".join(f"{feed} {rows:,}" for feed, rows in summary.rows.items()))
    return summary
