"""Writing the synthetic landing zone: delivery files, the lookup, answers files, the manifest.

Belongs here: turning frames that carry a `_delivery` column into CSV files (appending when a
later unit adds rows to the same delivery), byte-for-byte reproducible output, suppliers'
byte order marks, and the manifest that lets a re-run replace its own earlier output - while
refusing to touch files it did not write. Does not: what goes in the rows.
"""

import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from . import calibration as cal

MANIFEST = "synth_manifest.json"
FEEDS = ("hes_apc", "hes_ae", "ambulance", "social_care", "dtoc", "population", "finance", "plan")


_NEEDS_QUOTES = r'[,"\r\n]'


def csv_bytes(frame: pd.DataFrame, header: bool) -> bytes:
    """The frame as CSV (comma, LF, minimal quoting), as pandas would write it, but much faster.

    Arrow writes unquoted text when no value needs quotes; otherwise pandas does the quoting.
    """
    table = pa.Table.from_pandas(frame.fillna("").astype(str), preserve_index=False)
    plain = not any(pc.any(pc.match_substring_regex(col, _NEEDS_QUOTES)).as_py() for col in table.columns)
    if plain and not any(ch in name for name in frame.columns for ch in ',"\r\n'):
        buffer = io.BytesIO()
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
        head = (",".join(frame.columns) + "\n").encode("utf-8") if header else b""
        return head + buffer.getvalue()
    return frame.to_csv(index=False, header=header, lineterminator="\n").encode("utf-8")


class LandingWriter:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.landing = self.out_dir / "landing"
        self.files: dict[str, int] = {}  # relative path -> data rows
        self._clear_previous_output()
        for feed in FEEDS + ("inputs",):
            (self.landing / feed).mkdir(parents=True, exist_ok=True)
        (self.out_dir / "reference").mkdir(parents=True, exist_ok=True)

    def _clear_previous_output(self) -> None:
        existing = [p for p in self._generated_paths() if p.is_file()]
        if not existing:
            return
        manifest = self.out_dir / MANIFEST
        known: set[str] = set()
        if manifest.is_file():
            try:
                known = set(json.loads(manifest.read_text(encoding="utf-8")).get("files", {}))
            except (ValueError, AttributeError):
                known = set()
        foreign = [p for p in existing if p.relative_to(self.out_dir).as_posix() not in known]
        if foreign:
            listed = ", ".join(p.relative_to(self.out_dir).as_posix() for p in foreign[:5])
            raise FileExistsError(
                f"{self.out_dir} already holds landing files that synth did not write ({listed}"
                f"{', ...' if len(foreign) > 5 else ''}); choose an empty --out directory"
            )
        for path in existing:
            path.unlink()
        manifest.unlink()

    def _generated_paths(self):
        for feed in FEEDS:
            yield from sorted((self.landing / feed).glob("*.csv"))
        yield from sorted((self.landing / "inputs").glob("*/*.yaml"))
        yield self.out_dir / "reference" / "lsoa_localities.csv"

    def _record(self, path: Path, rows: int) -> None:
        rel = path.relative_to(self.out_dir).as_posix()
        self.files[rel] = self.files.get(rel, 0) + rows

    def write_deliveries(self, feed: str, frame: pd.DataFrame, columns: list[str]) -> None:
        """Append each `_delivery` group of the frame to landing/<feed>/<delivery>."""
        if frame is None or not len(frame):
            return
        for name, group in frame.groupby("_delivery", sort=True):
            path = self.landing / feed / name
            rel = path.relative_to(self.out_dir).as_posix()
            new = rel not in self.files
            bom = new and any(f"_{supplier}_" in name for supplier in cal.BOM_SUPPLIERS)
            with open(path, "wb" if new else "ab") as handle:
                if bom:
                    handle.write("\ufeff".encode("utf-8"))
                handle.write(csv_bytes(group[columns], header=new))
            self._record(path, len(group))

    def write_csv(self, relpath: str, frame: pd.DataFrame) -> Path:
        path = self.out_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(csv_bytes(frame, header=True))
        self._record(path, len(frame))
        return path

    def write_bytes(self, relpath: str, data: bytes, rows: int) -> Path:
        path = self.out_dir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._record(path, rows)
        return path

    def write_text(self, relpath: str, text: str) -> Path:
        return self.write_bytes(relpath, text.encode("utf-8"), 1)

    def rows_by_feed(self) -> dict[str, int]:
        counts = {feed: 0 for feed in FEEDS}
        counts["inputs"] = 0
        for rel, rows in self.files.items():
            parts = rel.split("/")
            if parts[0] == "landing":
                counts[parts[1]] = counts.get(parts[1], 0) + rows
        return counts

    def write_manifest(self, settings: dict) -> Path:
        path = self.out_dir / MANIFEST
        body = {"generator": "cb_pipeline.synth", "settings": settings, "files": dict(sorted(self.files.items()))}
        path.write_text(json.dumps(body, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        return path
