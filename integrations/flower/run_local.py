"""Start a run of a Flower app on a SuperLink from Python: the function behind `flwr run`
(flwr.cli.run.run.run), for hosts where the `flwr` CLI itself does not load (docs/flower.md §6).

Usage: python3 run_local.py APP_DIR CONNECTION [--stream] [--run-config 'k=v k2="s" ...']...

CONNECTION names a SuperLink connection of $FLWR_HOME/config.toml (Flower >= 1.26), e.g.

    [superlink]
    default = "local"
    [superlink.local]
    address = "127.0.0.1:9093"   # the SuperLink's Control API
    insecure = true

(Flower <= 1.25: a federation of the app's pyproject.toml.) `--run-config` may be given several
times; each is a space-separated list of TOML `key=value` pairs. With `--stream` the run's log
(the ServerApp's `FEDSEG round` / `FEDSEG_FINAL` lines among it) is printed until the run ends,
and the exit status is 1 when the run failed (a `FEDSEG_ERROR` line, or Flower's "ServerApp raised
an exception"), else 0.
Note that `flwr run` may rewrite the app's pyproject.toml (a migration of legacy settings), so
tests run a copy of the app.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path
from typing import TextIO

FAILURE_MARKS = ("FEDSEG_ERROR", "ServerApp raised an exception")


class _Watch:
    """stdout, passed through, remembering whether a failure line went by (the streamed log is
    printed with print(), so this sees it all)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tail = ""
        self.failed = False

    def write(self, text: str) -> int:
        scan = self.tail + text
        if any(mark in scan for mark in FAILURE_MARKS):
            self.failed = True
        self.tail = scan[-64:]
        return self.out.write(text)

    def flush(self) -> None:
        self.out.flush()

    def __getattr__(self, name: str) -> object:
        return getattr(self.out, name)


def main(argv: list[str]) -> None:
    """Parse the command line and start the run."""
    parser = argparse.ArgumentParser(description="flwr run, from Python")
    parser.add_argument("app", type=Path, help="the Flower app's directory")
    parser.add_argument("connection", nargs="?", default=None, help="the SuperLink connection name")
    parser.add_argument("--stream", action="store_true", help="print the run's log until it ends")
    parser.add_argument("--run-config", action="append", default=None, metavar="'k=v ...'",
                        help="run-config overrides (TOML values)")
    args = parser.parse_args(argv)

    from flwr.cli.run.run import run  # imported late: --help works without Flower installed

    kwargs: dict[str, object] = {
        "app": args.app,
        "run_config_overrides": args.run_config,
        "federation_config_overrides": None,
        "stream": args.stream,
        "output_format": "default",
    }
    if "superlink" in inspect.signature(run).parameters:  # Flower >= 1.26
        kwargs["superlink"] = args.connection
        kwargs["federation"] = None
    else:
        kwargs["federation"] = args.connection
    watch = _Watch(sys.stdout)
    sys.stdout = watch  # type: ignore[assignment]
    try:
        run(**kwargs)
    finally:
        sys.stdout = watch.out
    if watch.failed:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
