"""``ashnet config``: list the packaged configs and print one, resolved, as a starting point."""

from __future__ import annotations

import argparse

from ..config import dump_config, load_config, packaged_configs

EPILOG = """\
examples:
  ashnet config list
  ashnet config show tiny                 # every key, defaults filled in
  ashnet config show demo > my.yaml       # copy, edit, then: ashnet train --config my.yaml ...
  ashnet config show my.yaml              # validate a file and print it resolved
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "config",
        help="list or print the packaged run configs",
        description="List the configs shipped with ashnet, or print one (or a YAML file) fully resolved.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="names of the packaged configs")
    show = sub.add_parser("show", help="print a config as YAML with every key resolved")
    show.add_argument("name", help="packaged config name (see `ashnet config list`) or a YAML file")
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.action == "list":
        for name in packaged_configs():
            print(name)
        return 0
    print(dump_config(load_config(args.name)), end="")
    return 0
