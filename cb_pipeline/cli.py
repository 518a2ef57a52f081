"""The `cb-pipeline` command line: synth | run | demo | catalogue | serve | portal-user (return.md, Command line).

Belongs here: argument parsing, turning flags into Settings, running the Dagster job in-process
for one partition, terse progress output, and the exit codes (0 ok, 1 a return or check failed,
2 bad arguments or configuration, always with a one-line message and no traceback).
Does not: any pipeline step (the Dagster definitions do them; this is a thin layer over the same
graph the UI uses) or synthetic data logic (cb_pipeline.synth).
"""

import argparse
import datetime as dt
import logging
import os
import secrets
import sys
import warnings
from pathlib import Path

# Before dagster is imported anywhere: no usage reports from a statutory-data pipeline.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from cb_pipeline.lib.periods import FyQuarter  # noqa: E402
from cb_pipeline.lib.settings import ConfigurationError, Settings  # noqa: E402

DEMO_DIR = Path("data")
DEMO_KEY_FILE = DEMO_DIR / ".dev_pseudonymisation_key"
KEY_ENV = "CB_PSEUDONYMISATION_KEY"
CATALOGUE = Path(__file__).resolve().parents[1] / "docs" / "metric_catalogue.md"


class RunFailed(Exception):
    """The job ran but a requested return was not produced (exit 1)."""


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- synth


def _synth_range(args) -> tuple[str, str]:
    if args.fy:
        if args.start or args.end:
            raise ValueError("give either --fy or --start/--end, not both")
        quarter = FyQuarter.parse(f"{args.fy}-Q1")  # validates 2018-19
        return f"{quarter.fy_start_year}-04", f"{quarter.fy_start_year + 1}-03"
    return args.start or "2017-04", args.end or "2019-03"


def cmd_synth(args) -> int:
    from cb_pipeline.synth import generate_landing_zone

    start, end = _synth_range(args)
    reference = Path(args.reference) if args.reference else None
    if reference is not None and not reference.is_dir():
        raise ConfigurationError(f"--reference {reference} is not a directory")
    summary = generate_landing_zone(
        Path(args.out), start=start, end=end, seed=args.seed, hwbs=args.hwbs, scale=args.scale,
        defects=args.defects, reference_dir=reference, progress=print,
    )
    print(f"landing zone: {summary.landing_dir}")
    print(f"reference:    {summary.reference_path.parent}")
    return 0


# --------------------------------------------------------------------------- run


class _ProgressFormatter(logging.Formatter):
    """One short line per user message and per failure; Dagster's own step chatter is dropped."""

    def format(self, record: logging.LogRecord) -> str:
        meta = getattr(record, "dagster_meta", None) or {}
        step = meta.get("step_key") or ""
        event = meta.get("dagster_event")
        message = meta.get("orig_message") or record.getMessage()
        if event is not None:
            kind = getattr(event, "event_type_value", "")
            if kind == "STEP_FAILURE":
                return f"  {step}: FAILED"
            if kind == "STEP_SKIPPED":
                return f"  {step}: skipped (an upstream step failed)"
            return ""
        return f"  {step}: {message}" if step else f"  {message}"


class _ProgressHandler(logging.StreamHandler):
    def emit(self, record: logging.LogRecord) -> None:
        if self.format(record):
            super().emit(record)


def _progress_logger():
    import dagster as dg

    @dg.logger(description="cb-pipeline progress: user messages and failures, one line each, on stderr")
    def progress(init_context):
        logger = logging.Logger("cb_pipeline.run", level=logging.INFO)
        handler = _ProgressHandler(sys.stderr)
        handler.setFormatter(_ProgressFormatter())
        logger.addHandler(handler)
        return logger

    return progress


def _config_error_names() -> set[str]:
    names, todo = set(), [ConfigurationError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


def _root_error(error) -> tuple[str, str]:
    """(class name, message) of the user error behind a step failure (a configuration error
    anywhere in the cause chain wins, since it decides the exit code)."""
    chain = []
    while error is not None:
        chain.append(error)
        error = error.cause
    if not chain:
        return "Error", "unknown failure"
    config = _config_error_names()
    chosen = next((e for e in chain if e.cls_name in config), chain[-1])
    message = chosen.message.strip()
    # the message is "module.ClassName: text" (traceback.format_exception_only); keep the text
    head, sep, tail = message.partition(": ")
    if sep and head.split(".")[-1] == chosen.cls_name:
        message = tail
    return chosen.cls_name, message


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _check_partition(quarter: FyQuarter) -> None:
    from cb_pipeline.lib.periods import fy_quarter_partitions

    keys = fy_quarter_partitions().get_partition_keys()
    if quarter.partition_key not in keys:
        first, last = FyQuarter.parse(keys[0]), FyQuarter.parse(keys[-1])
        raise ConfigurationError(
            f"{quarter.cli_form} is not a reportable quarter: quarters run from {first.cli_form} "
            f"to {last.cli_form} (the last complete quarter)"
        )


def run_quarter(settings: Settings, quarter: FyQuarter, hwb_codes: list[str] | None = None) -> list[dict]:
    """Materialise the whole job for one partition in this process; returns the returns' metadata.

    Raises ConfigurationError when a step failed on configuration (exit 2) and RunFailed otherwise.
    """
    import dagster as dg

    from cb_pipeline.bcf_return.assets import ASSET_NAME
    # Dagster marks some parameters we rely on (backfill_policy) as beta; users of the CLI cannot act
    # on that, so it stays out of their terminal (the Dagster UI still shows it to engineers).
    from dagster._utils.warnings import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)
    from cb_pipeline.definitions import JOB_NAME, build_defs
    from cb_pipeline.lib.dagster_assets import default_resources

    _check_partition(quarter)
    for label, path in (("landing", settings.landing_dir), ("reference", settings.reference_dir)):
        if not Path(path).is_dir():
            raise ConfigurationError(
                f"{label} directory {path} does not exist (set --{label} or CB_{label.upper()}_DIR; "
                "`cb-pipeline synth --out data` writes a synthetic one)"
            )
    warnings.filterwarnings("ignore", module="dagster")
    defs = build_defs(resource_overrides=default_resources(settings), loggers={"console": _progress_logger()})
    job = defs.resolve_job_def(JOB_NAME)
    # A configured DAGSTER_HOME keeps the run in the UI's history; otherwise a throw-away instance.
    persistent = bool(os.environ.get("DAGSTER_HOME"))
    instance = dg.DagsterInstance.get() if persistent else dg.DagsterInstance.ephemeral()
    # a logger is only used when the run config names it; otherwise Dagster's default applies
    run_config = {"loggers": {"console": {}}}
    try:
        tags = _partition_tags(instance, settings, quarter, hwb_codes, persistent)
        _say(f"run {quarter.label} for {_hwb_span(tags)}: landing {settings.landing_dir}, "
             f"reference {settings.reference_dir}, returns {settings.returns_dir}")
        result = job.execute_in_process(instance=instance, tags=tags, run_config=run_config, raise_on_error=False)
    finally:
        if not persistent:
            instance.dispose()
    if not result.success:
        failures = result.get_step_failure_events()
        if not failures:
            raise RunFailed(f"the run of {quarter.label} failed before any step ran")
        event = failures[0]
        cls_name, message = _root_error(event.step_failure_data.error)
        where = event.step_key
        if cls_name in _config_error_names():
            raise ConfigurationError(f"{where}: {_one_line(message)}")
        if event.step_failure_data.error and "DagsterAssetCheckFailedError" in (event.step_failure_data.error.cls_name or ""):
            # the check's own error line (above, on stderr) says what failed and where to look
            raise RunFailed(f"{where}: a blocking data test failed ({_one_line(message)}); see the check's "
                            "'failure' and 'where_to_look' metadata in the Dagster UI and the error lines above")
        raise RunFailed(f"{where}: {_one_line(message)}")
    produced = {}
    # one materialization per partition of the run, each carrying the step's metadata
    for materialization in result.asset_materializations_for_node(ASSET_NAME):
        for detail in materialization.metadata["details"].value:
            produced[(detail["hwb_code"], detail["quarter"])] = detail
    produced = list(produced.values())
    if not produced:
        raise RunFailed(f"no return was produced for {quarter.label}")
    return produced


def _partition_tags(instance, settings: Settings, quarter: FyQuarter, hwb_codes: list[str] | None,
                    persistent: bool) -> dict[str, str]:
    """One run over the quarter for every HWB of the reference lookup (or only `hwb_codes`)."""
    from cb_pipeline.lib.partitions import range_tags, register_hwbs
    from cb_pipeline.reference import reference_hwb_codes

    known = reference_hwb_codes(settings.reference_dir)
    wanted = sorted(dict.fromkeys(hwb_codes)) if hwb_codes else known
    unknown = [h for h in wanted if h not in known]
    if unknown or not wanted:
        raise ConfigurationError(f"HWB(s) {', '.join(unknown) or '(none)'} are not in the reference lookup "
                                 f"{settings.reference_dir} (it has: {', '.join(known) or 'no HWB'})")
    # a throw-away instance knows only the HWBs of this run; a persistent one keeps every HWB
    register_hwbs(instance, known if persistent else wanted)
    try:
        return range_tags(instance, wanted, [quarter])
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None


def _hwb_span(tags: dict[str, str]) -> str:
    from cb_pipeline.lib.partitions import RANGE_END_TAG, RANGE_START_TAG

    first, last = tags[RANGE_START_TAG].split("|")[0], tags[RANGE_END_TAG].split("|")[0]
    return first if first == last else f"HWBs {first} to {last}"


def _print_returns(produced: list[dict]) -> None:
    for r in produced:
        print(f"{r['hwb_code']} {r['quarter']} {r['action']} ({r['template_status']}): {Path(r['path']).resolve()}")


def cmd_run(args) -> int:
    quarter = FyQuarter.parse(args.quarter)
    settings = Settings.from_env().with_overrides(
        landing_dir=Path(args.landing) if args.landing else None,
        reference_dir=Path(args.reference) if args.reference else None,
        warehouse_url=args.warehouse,
        returns_dir=Path(args.returns) if args.returns else None,
    )
    _print_returns(run_quarter(settings, quarter, args.hwb))
    return 0


# --------------------------------------------------------------------------- demo


def _demo_key() -> None:
    if os.environ.get(KEY_ENV):
        return
    if DEMO_KEY_FILE.exists():
        key = DEMO_KEY_FILE.read_text().strip()
        _say(f"demo: {KEY_ENV} is unset; using the local development key in {DEMO_KEY_FILE} "
             "(demo data only: never use it for real data)")
    else:
        DEMO_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        DEMO_KEY_FILE.write_text(key + "\n")
        DEMO_KEY_FILE.chmod(0o600)
        _say(f"demo: {KEY_ENV} is unset; created a local development key in {DEMO_KEY_FILE} "
             "(demo data only: never use it for real data)")
    os.environ[KEY_ENV] = key  # read by the ingest assets of this process only


def latest_complete_quarter(end_month: str) -> FyQuarter:
    """The last quarter whose three months are all on or before `end_month` (YYYY-MM)."""
    year, month = map(int, end_month.split("-"))
    quarter = FyQuarter.containing(dt.date(year, month, 1))
    return quarter if quarter.end.month == month else quarter.previous()


def cmd_demo(args) -> int:
    from cb_pipeline.synth import generate_landing_zone

    _demo_key()
    env_reference = os.environ.get("CB_REFERENCE_DIR")
    summary = generate_landing_zone(DEMO_DIR, reference_dir=Path(env_reference) if env_reference else None,
                                    progress=print)
    quarter = latest_complete_quarter(summary.end)
    settings = Settings.from_env().with_overrides(landing_dir=summary.landing_dir,
                                                  reference_dir=summary.reference_path.parent)
    produced = run_quarter(settings, quarter)
    _print_returns(produced)
    _say(f"demo: open the return(s) above; `make dev` shows the same assets in the Dagster UI")
    return 0


# --------------------------------------------------------------------------- catalogue


def cmd_catalogue(args) -> int:
    from cb_pipeline.lib.sql_models import discover, render_catalogue

    text = render_catalogue(discover())
    path = Path(args.out) if args.out else CATALOGUE
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != text:
            _say(f"{path} is stale: run `cb-pipeline catalogue` and commit it")
            return 1
        print(f"{path} is up to date")
        return 0
    if current != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    else:
        print(f"{path} is up to date")
    return 0


# --------------------------------------------------------------------------- check


def cmd_check(args) -> int:
    """The real ingest engine into a throw-away warehouse (cb_pipeline/quality/landing_check.py)."""
    from cb_pipeline.quality.landing_check import check_landing, format_summary

    settings = Settings.from_env().with_overrides(landing_dir=Path(args.landing) if args.landing else None,
                                                  reference_dir=Path(args.reference) if args.reference else None)
    summaries = check_landing(settings.landing_dir, settings.reference_dir)
    for line in format_summary(summaries):
        print(line)
    rejected = sum(len(s.rejected) for s in summaries)
    _say(f"check {settings.landing_dir}: {rejected} deliveries rejected, "
         f"{sum(s.quarantined for s in summaries):,} rows would be quarantined; nothing was loaded")
    return 1 if rejected else 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cb-pipeline", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{synth,run,demo,catalogue,check,serve,portal-user}")

    synth = sub.add_parser("synth", help="write a realistic synthetic landing zone and reference lookup")
    synth.add_argument("--out", required=True, help="output folder: gets landing/ and reference/")
    synth.add_argument("--start", help="first month, YYYY-MM (default 2017-04)")
    synth.add_argument("--end", help="last month, YYYY-MM (default 2019-03)")
    synth.add_argument("--fy", help="one financial year instead of --start/--end, e.g. 2018-19")
    synth.add_argument("--seed", type=int, default=20181105, help="random seed (same seed, same files)")
    synth.add_argument("--hwbs", type=int, default=1, help="number of HWB areas")
    synth.add_argument("--scale", type=float, default=1.0, help="activity volume multiplier")
    synth.add_argument("--defects", type=float, default=0.0, help="share of rows made bad (0 to 0.5)")
    synth.add_argument("--reference", help="folder holding the real LSOA lookup CSV to build on")
    synth.set_defaults(func=cmd_synth)

    run = sub.add_parser("run", help="ingest, validate, compute and render the returns of one quarter")
    run.add_argument("--quarter", required=True, help="2018-19-Q3 (or the partition key 2018-10-01)")
    run.add_argument("--hwb", action="append", metavar="CODE", help="only this HWB (repeatable)")
    run.add_argument("--landing", help="landing zone (default CB_LANDING_DIR or ./data/landing)")
    run.add_argument("--reference", help="reference folder (default CB_REFERENCE_DIR or ./data/reference)")
    run.add_argument("--warehouse", help="warehouse URL (default CB_WAREHOUSE_URL or duckdb:///./data/warehouse.duckdb)")
    run.add_argument("--returns", help="returns folder (default CB_RETURNS_DIR or ./data/returns)")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="synthetic data into ./data, then the latest complete quarter's return")
    demo.set_defaults(func=cmd_demo)

    catalogue = sub.add_parser("catalogue", help="write docs/metric_catalogue.md from the models' .yml")
    catalogue.add_argument("--check", action="store_true", help="exit 1 if the file is stale instead of writing it")
    catalogue.add_argument("--out", help=argparse.SUPPRESS)
    catalogue.set_defaults(func=cmd_catalogue)

    check = sub.add_parser("check", help="validate a landing zone without loading it (exit 1 if a delivery is rejected)")
    check.add_argument("--landing", help="landing zone (default CB_LANDING_DIR or ./data/landing)")
    check.add_argument("--reference", help="reference folder (default CB_REFERENCE_DIR or ./data/reference)")
    check.set_defaults(func=cmd_check)

    # the commissioners' download portal (cb_pipeline/portal): README, "The download portal"
    def portal_command(name: str):
        def run(args) -> int:
            from cb_pipeline.portal import commands  # imported only when a portal command runs

            return getattr(commands, name)(args)
        return run

    serve = sub.add_parser("serve", help="the commissioners' download portal (needs CB_PORTAL_SECRET)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--certfile", help="TLS certificate (PEM) to serve HTTPS directly")
    serve.add_argument("--keyfile", help="TLS private key (PEM) for --certfile")
    serve.set_defaults(func=portal_command("cmd_serve"))

    portal_user = sub.add_parser("portal-user", help="manage portal users (password from a prompt or stdin)")
    portal_user_sub = portal_user.add_subparsers(dest="action", required=True, metavar="{add}")
    portal_user_add = portal_user_sub.add_parser("add", help="add a user or replace their password and HWBs")
    portal_user_add.add_argument("name", help="user name")
    portal_user_add.add_argument("--hwb", nargs="+", required=True, metavar="CODE", help="HWB codes the user may see")
    portal_user_add.set_defaults(func=portal_command("cmd_portal_user"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed the usage line and the error
        return int(exc.code or 0)
    try:
        return args.func(args)
    except (ConfigurationError, ValueError) as exc:
        _say(f"cb-pipeline {args.command}: error: {_one_line(str(exc))}")
        return 2
    except RunFailed as exc:
        _say(f"cb-pipeline {args.command}: failed: {_one_line(str(exc))}")
        return 1
    except KeyboardInterrupt:
        _say("cb-pipeline: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
