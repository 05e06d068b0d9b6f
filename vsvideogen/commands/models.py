"""``vsvideogen models``: list the registered models, inspect one, import a user-supplied weight file."""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import VSVideoGenError
from ..models import registry
from ..models.weights import CACHE_ENV, cache_dir, sha256_file

FUNC = "models"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``models`` and its ``list``, ``info`` and ``import`` actions."""
    parser = subparsers.add_parser(
        "models",
        help="list, inspect and import model weights",
        description="List the registered models, show one, or import a downloaded weight file into the cache.",
        epilog=f"Imported weights go to <cache>/weights/<id>/; the cache is the user cache dir, or ${CACHE_ENV} if set.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list registered models and whether their weights are installed")
    listing.add_argument("--task", choices=registry.TASKS, help="only models for this task")
    info = actions.add_parser("info", help="show one model, where its file is, and check its sha256")
    info.add_argument("id", help="a registered model id")
    imp = actions.add_parser("import", help="copy a weight file into the cache after checking its sha256")
    imp.add_argument("path", help="the downloaded weight file")
    imp.add_argument("--id", dest="model_id", help="the model the file is for (needed when its hash is not registered)")
    parser.set_defaults(handler=main)


# The status of a command whose reader went away, as a shell reports one ended by SIGPIPE (128 + 13).
STATUS_STDOUT_CLOSED = 141


def main(args: argparse.Namespace) -> int:
    """Run the chosen action; on failure print a one-line reason to stderr and return 1.

    When stdout is closed early (``vsvideogen models list | head -1``) the rest of the output is dropped
    silently and the status is 141, what a shell reports for a command ended by SIGPIPE.
    """
    try:
        status = {"list": _list, "info": _info, "import": _import}[args.action](args)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is caught below
        return status
    except VSVideoGenError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Python would flush stdout again at exit and report the closed pipe: point it at /dev/null instead.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return STATUS_STDOUT_CLOSED


def _where(spec: registry.ModelSpec) -> str:
    """"missing", "bundled", "imported", or "damaged" where the file found does not match its pinned sha256."""
    found = registry.find_weights(spec)
    if found is None:
        return "missing"
    if spec.sha256 is not None and sha256_file(found) != spec.sha256:
        return "damaged"
    return "bundled" if spec.bundled and found.parent == registry.bundled_dir() else "imported"


def _list(args: argparse.Namespace) -> int:
    specs = registry.list_specs(args.task, FUNC)
    rows = [("ID", "TASK", "WEIGHTS", "LICENCE", "DESCRIPTION")]
    rows += [(s.id, s.task, _where(s), s.licence, s.description) for s in specs]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    for row in rows[1:]:
        if row[2] == "damaged":
            print(f"vsvideogen.{FUNC}: the weight file of {row[0]} does not match its sha256; "
                  f"`vsvideogen models info {row[0]}` shows where it is", file=sys.stderr)
    return 0


def _info(args: argparse.Namespace) -> int:
    spec = registry.get_spec(args.id, FUNC)
    fields = [
        ("id", spec.id),
        ("task", spec.task),
        ("arch", spec.arch),
        ("file", spec.file),
        ("sha256", spec.sha256 or "not pinned yet"),
        ("licence", spec.licence),
        ("source", spec.source),
        ("modulo", str(spec.modulo)),
        ("bundled", "yes" if spec.bundled else "no"),
        ("description", spec.description),
    ]
    found = registry.find_weights(spec)
    status = 0
    if found is None:
        looked = ([str(registry.bundled_dir())] if spec.bundled else []) + [str(registry.user_weights_path(spec).parent)]
        fields.append(("location", f"not installed (looked in {', '.join(looked)})"))
        fields.append(("check", "get the file named under source, then run `vsvideogen models import PATH`"))
    else:
        fields.append(("location", str(found)))
        digest = sha256_file(found)
        if spec.sha256 is None:
            fields.append(("check", f"sha256 {digest} (nothing pinned to compare with)"))
        elif digest == spec.sha256:
            fields.append(("check", "sha256 ok"))
        else:
            fields.append(("check", f"sha256 MISMATCH: the file has {digest}"))
            status = 1
    fields.append(("cache", str(cache_dir())))
    width = max(len(name) for name, _ in fields) + 1
    for name, value in fields:
        print(f"{name + ':':<{width}} {value}")
    if status:
        print(
            f"vsvideogen.{FUNC}: {found} does not match the registered sha256; delete it and import the original again",
            file=sys.stderr,
        )
    return status


def _import(args: argparse.Namespace) -> int:
    spec, target, copied = registry.import_weights(args.path, FUNC, args.model_id)
    if copied:
        print(f"imported {spec.id}: {target}")
    else:
        print(f"{spec.id} already installed: {target}")
    return 0
