"""The artifact verbs: bake, verify, keys generate."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, guarded, out
from kiln.project import stackfiles
from kiln.release.record import short_digest


class _Plain:
    """Without a terminal: one line per Packer message on stderr (CI logs keep them)."""

    def __init__(self, image: str, verbose: bool) -> None:
        self._image = image
        self._verbose = verbose

    def __call__(self, event: Any) -> None:
        if self._verbose:  # Packer's own text, every line of it
            for line in event.text.splitlines() or [""]:
                print(line, file=sys.stderr, flush=True)
            return
        print(f"bake {self._image} [{event.elapsed:7.1f}s] {event.line}", file=sys.stderr,
              flush=True)


@contextmanager
def _watching(image: str, verbose: bool) -> Iterator[Callable[[Any], None]]:
    """How a bake shows itself: a live line (phase, elapsed time) on a terminal, plain
    lines otherwise; ``--verbose`` prints Packer's own output above the live line."""
    if not sys.stderr.isatty():
        yield _Plain(image, verbose)
        return
    # rich's import cost is paid only on a terminal.
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(SpinnerColumn(), TimeElapsedColumn(), TextColumn("{task.description}"),
                  console=Console(stderr=True, highlight=False), transient=True) as progress:
        task = progress.add_task(f"baking {image}: starting Packer")

        def show(event: Any) -> None:
            if verbose:
                for line in event.text.splitlines():
                    progress.console.print(line, markup=False, highlight=False)
            if event.phase or event.error:
                progress.update(task, description=f"baking {image}: {event.line[:100]}")

        yield show


def bake_cmd(
        image: Annotated[str, typer.Argument(help="golden, container or app.")],
        var: Annotated[list[str] | None, typer.Option(
            "--var", help="Set a Packer variable, name=value (repeatable).")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Bake even when these inputs were baked before.")] = False,
        signing_key: Annotated[str | None, typer.Option(
            "--signing-key", help="Ed25519 key file or kms:<key id> (default: "
            "KILN_SIGNING_KEY, else ~/.config/kiln/release.pem).")] = None,
        verbose: Annotated[bool, typer.Option(
            "--verbose", "-v", help="Show Packer's own output as it runs.")] = False,
        as_json: JsonFlag = False) -> None:
    """Bake IMAGE with Packer, sign its record and tag it — or reuse an identical bake.
    Packer's full output is kept under .kiln/logs/."""
    from kiln.bake import inputs, runner  # noqa: PLC0415 (per-verb start-up cost)

    def run() -> Any:
        root = stackfiles.find_root()
        with _watching(image, verbose) as show:
            return runner.bake(image, root, inputs.parse_overrides(var or []), force=force,
                               signing_key=signing_key, progress=show)

    result = guarded(run)
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
    elif result.cached:
        out.print(f"cache hit: {image} inputs {short_digest(result.input_hash)} were baked "
                  f"before as {result.image} (record {short_digest(result.record)}); Packer "
                  f"not run ({result.seconds:.2f} s; --force rebakes)")
    else:
        out.print(f"baked {image}: {result.image} ({result.location}) in "
                  f"{result.seconds:.1f} s; record {result.record} signed → "
                  f"{result.record_path}")


def verify_cmd(
        target: Annotated[str, typer.Argument(
            help="A record file (releases/<name>/<digest>.json), an AMI id or a container "
                 "digest ([repository@]sha256:…).")],
        key: Annotated[list[str] | None, typer.Option(
            "--key", help="Trust this key only: a PEM public key file, an Ed25519 key file "
            "or kms:<key id> (repeatable). Default: the stacks' kiln:trustedKeys.")] = None,
        stack: Annotated[str | None, typer.Option(
            "--stack", help="Trust only this stack's kiln:trustedKeys.")] = None,
        region: Annotated[str | None, typer.Option(
            "--region", help="Region of an AMI (default: AWS_REGION).")] = None,
        as_json: JsonFlag = False) -> None:
    """Check a record or image against trusted keys; exit non-zero and say why it fails."""
    from kiln.records import keys, verify  # noqa: PLC0415 (per-verb start-up cost)

    def run() -> Any:
        root = stackfiles.find_root()
        where = region or verify.default_region()
        trusted = keys.trusted(root, key or [], stack, where)
        return verify.target(target, root, trusted, where)

    result = guarded(run)
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    images = ", ".join(f"{i} ({loc})" for i, loc in result.record.locations())
    out.print(f"verified: record {result.digest} ({result.record.name}, "
              f"{result.record.kind}) signed by {result.key_id} for {images}")


keys_app = typer.Typer(help="Create signing keys.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate_cmd(
        path: Annotated[str, typer.Argument(help="Where to write the private key (PEM).")],
        force: Annotated[bool, typer.Option(
            "--force", help="Replace both key files if they exist.")] = False,
        as_json: JsonFlag = False) -> None:
    """Write a new Ed25519 signing key (0600) and its public half beside it (.pub); never
    overwrite either without --force."""
    from kiln.records import keys  # noqa: PLC0415 (per-verb start-up cost)

    public, public_path = guarded(lambda: keys.generate(Path(path), force=force))
    if as_json:
        print(json.dumps({"id": public.id, "type": public.type, "publicKey": public.pem,
                          "publicKeyPath": str(public_path)}, sort_keys=True))
        return
    out.print(f"wrote {path} (private, 0600) and {public_path}; trust it in a stack file:")
    out.print(f"  kiln:trustedKeys:\n    - id: {public.id}\n      type: {public.type}\n"
              "      publicKey: |\n" + "".join(f"        {line}\n"
                                              for line in public.pem.splitlines()), end="")
