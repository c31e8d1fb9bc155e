"""The `cxlab` command: a thin layer that parses arguments and calls the package."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import CxlabError
from .privacy import redact

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # SIGINT or SIGTERM (as report.runner.EXIT_INTERRUPTED)


def _parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise CxlabError(f"--param '{pair}': write name=value or stage.name=value")
        name, value = pair.split("=", 1)
        params[name.strip()] = value
    return params


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_run(args) -> int:
    """Run a study. SIGINT (Ctrl-C) or SIGTERM stops the stages' kernels, writes run.json with
    status "interrupted", and exits 130; before the run has started, they exit 130 at once."""
    import signal

    from .report.runner import EXIT_INTERRUPTED, raise_for_failure, run_study

    stages = [s.strip() for s in args.stages.split(",") if s.strip()] if args.stages else None
    before = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)  # the run replaces it while it runs
    try:
        result = run_study(args.study, stages=stages, overrides=_parse_params(args.param),
                           progress=lambda msg: print(msg, flush=True))
    finally:
        signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)
    if result.interrupted:
        stopped = [s.stage for s in result.stages if s.status == "interrupted"]
        print(f"cxlab: interrupted ({result.signal}): stopped {', '.join(stopped) or 'before any stage ran'}; "
              f"nothing of this run was published. run.json: {result.run_dir / 'run.json'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    raise_for_failure(result)
    print(f"Report: {result.index}")
    return 0


def cmd_validate(args) -> int:
    from .data import validate

    report = validate(args.study)
    print(report)
    if report.ok:
        print("OK: every table meets the data contract.")
        return 0
    return 1


def cmd_synth(args) -> int:
    from . import synth

    if args.demo:
        options = dict(synth.DEMO)
    else:
        options = {"customers": args.customers, "seed": args.seed}
    if args.events_per_customer is not None:
        options["events_per_customer"] = args.events_per_customer
    out = synth.write_study(Path(args.out), progress=lambda msg: print(msg, flush=True), **options)
    print(f"Study written to {out}")
    return 0


def cmd_stages(args) -> int:
    from .report.runner import available_stages, notebook_parameters
    from .stages import STAGES

    present = available_stages()
    for stage, spec in STAGES.items():
        mark = "" if stage in present else "  (no notebook yet)"
        print(f"{stage:<14} {spec.notebook}{mark}")
        if stage in present and args.parameters:
            for name, spec in notebook_parameters(stage).items():
                print(f"    {name}: {spec.get('inferred_type_name')} = {spec.get('default')}"
                      f"  {('# ' + spec['help']) if spec.get('help') else ''}")
    return 0


def cmd_init(args) -> int:
    from .drafting import draft_study

    draft = draft_study(args.folder, title=args.title)
    print(draft.summary())
    return 0


def cmd_notebooks(args) -> int:
    import shlex

    from .report.notebooks import copy_notebooks

    copies = copy_notebooks(args.folder)
    folder = Path(args.folder).expanduser().resolve()
    print(f"Copied {len(copies)} stage notebooks to {folder}: {', '.join(p.name for p in copies)}")
    print("Edit them there (JupyterLab: jupyter lab " + shlex.quote(str(folder)) + "); cxlab run uses them once\n"
          "CXLAB_NOTEBOOKS names the folder:\n"
          f"  export CXLAB_NOTEBOOKS={shlex.quote(str(folder))}\n"
          "  cxlab run <study>\n"
          "Unset CXLAB_NOTEBOOKS to go back to the notebooks that come with cxlab.")
    return 0


def cmd_kpis(args) -> int:
    from .kpis import kpi_definitions

    table = kpi_definitions()
    width = max(len(k) for k in table["kpi"])
    for row in table.itertuples(index=False):
        print(f"{row.kpi:<{width}}  {row.definition}")
    return 0


def cmd_runs(args) -> int:
    """List the study's runs (oldest first); with --keep N, remove all but the N newest."""
    from .report.history import list_runs
    from .report.runs import prune_runs, run_rows, size_text
    from .study import Study

    study = Study.load(args.study)
    if args.keep is not None:
        pruned = prune_runs(study, args.keep)
        for run_id, state, size in pruned.removed:
            print(f"removed {run_id} ({state}, {size_text(size)})")
        print(f"Removed {len(pruned.removed)} run folder(s), freed {size_text(pruned.freed)} "
              f"({pruned.freed:,} bytes); kept {len(pruned.kept)}: {', '.join(pruned.kept) or 'none'}.")
        if pruned.rewritten:
            print(f"Rewrote the index of {', '.join(pruned.rewritten)} (it linked to a removed run).")
        print(f"History: {pruned.history}")
        return 0
    runs = list_runs(study)
    if not runs:
        print(f"No runs of {study.name} yet under {study.reports_dir}.")
        return 0
    rows = run_rows(runs, sizes=True)
    print(f"{'run':<20} {'started':<16} {'status':<12} {'fingerprint':<16} {'size':>9}  changed since the run before")
    for row in rows:
        changed = "; ".join(([row["data_changed"]] if row["data_changed"] else []) + row["parameters_changed"])
        print(f"{row['run_id']:<20} {row['started']:<16} {row['state']:<12} {row['fingerprint']:<16} "
              f"{size_text(row['bytes']):>9}  {redact(changed) or '–'}")
    total = sum(r["bytes"] for r in rows)
    print(f"{len(rows)} run(s), {size_text(total)} in {study.reports_dir}; history: "
          f"{study.reports_dir / 'history.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxlab", description="Customer journey mapping workbench.")
    parser.add_argument("--version", action="version", version=f"cxlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the stage notebooks of a study and render the HTML report")
    run.add_argument("study", help="study name under data/raw/, or a study folder")
    run.add_argument("--stages", help="comma-separated subset, e.g. intake,objectives")
    run.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                     help="override a notebook parameter (name=value or stage.name=value); repeatable")
    run.set_defaults(func=cmd_run)

    val = sub.add_parser("validate", help="check a study's tables against the data contract")
    val.add_argument("study", help="study name under data/raw/, or a study folder")
    val.set_defaults(func=cmd_validate)

    init = sub.add_parser("init", help="draft a study.yaml from a folder of exports (never overwrites one)")
    init.add_argument("folder", help="the folder holding the exported tables (CSV, .csv.gz, parquet …)")
    init.add_argument("--title", help="the study's title (default: from the folder's name)")
    init.set_defaults(func=cmd_init)

    kpis = sub.add_parser("kpis", help="list every KPI id with its definition (for objectives and interventions)")
    kpis.set_defaults(func=cmd_kpis)

    nbs = sub.add_parser("notebooks", help="copy the stage notebooks into a folder, to edit them "
                         "(then set CXLAB_NOTEBOOKS to that folder)")
    nbs.add_argument("folder", help="where to copy them (made if missing; a notebook there is never overwritten)")
    nbs.set_defaults(func=cmd_notebooks)

    syn = sub.add_parser("synth", help="write a synthetic study with planted truths")
    syn.add_argument("--out", required=True, help="folder to write, e.g. data/raw/demo")
    syn.add_argument("--customers", type=int, default=20_000, help="number of customers (default 20,000)")
    syn.add_argument("--seed", type=int, default=7)
    syn.add_argument("--events-per-customer", type=float, default=None,
                     help="mean events per customer (default: the demo's journeys)")
    syn.add_argument("--demo", action="store_true", help="the bundled demo study (20,000 customers, seed 7)")
    syn.set_defaults(func=cmd_synth)

    runs = sub.add_parser("runs", help="list a study's runs (date, status, data fingerprint, what changed, size); "
                          "--keep N removes older run folders")
    runs.add_argument("study", help="study name under data/raw/, or a study folder")
    runs.add_argument("--keep", type=int, metavar="N",
                      help="keep the N newest runs (and always the latest successful one and any still running); "
                           "remove the other run folders and rewrite the history page")
    runs.set_defaults(func=cmd_runs)

    stages = sub.add_parser("stages", help="list the stages and their notebook parameters")
    stages.add_argument("--parameters", action="store_true", help="also list each stage's parameters")
    stages.set_defaults(func=cmd_stages)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CxlabError as exc:
        print(f"cxlab: error: {redact(str(exc))}", file=sys.stderr)  # messages may quote customer text
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("cxlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
