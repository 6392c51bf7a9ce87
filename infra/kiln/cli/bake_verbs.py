"""The artifact verbs: bake, verify, keys generate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from kiln.cli.base import JsonFlag, err, guarded, out
from kiln.project import stackfiles
from kiln.release.record import short_digest


def bake_cmd(
        image: Annotated[str, typer.Argument(help="golden, container or app.")],
        var: Annotated[list[str] | None, typer.Option(
            "--var", help="Set a Packer variable, name=value (repeatable).")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Bake even when these inputs were baked before.")] = False,
        signing_key: Annotated[str | None, typer.Option(
            "--signing-key", help="Ed25519 key file or kms:<key id> (default: "
            "KILN_SIGNING_KEY, else ~/.config/kiln/release.pem).")] = None,
        as_json: JsonFlag = False) -> None:
    """Bake IMAGE with Packer, sign its record and tag it — or reuse an identical bake."""
    from kiln.bake import inputs, runner  # noqa: PLC0415 (per-verb start-up cost)

    def run() -> Any:
        root = stackfiles.find_root()
        with err.status(f"baking {image}", spinner="dots") as status:
            return runner.bake(image, root, inputs.parse_overrides(var or []), force=force,
                               signing_key=signing_key,
                               progress=lambda m: status.update(f"baking {image}: {m[:100]}"))

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
        as_json: JsonFlag = False) -> None:
    """Write a new Ed25519 signing key (0600) and its public half beside it (.pub)."""
    from kiln.records import keys  # noqa: PLC0415 (per-verb start-up cost)

    public, public_path = guarded(lambda: keys.generate(Path(path)))
    if as_json:
        print(json.dumps({"id": public.id, "type": public.type, "publicKey": public.pem,
                          "publicKeyPath": str(public_path)}, sort_keys=True))
        return
    out.print(f"wrote {path} (private, 0600) and {public_path}; trust it in a stack file:")
    out.print(f"  kiln:trustedKeys:\n    - id: {public.id}\n      type: {public.type}\n"
              "      publicKey: |\n" + "".join(f"        {line}\n"
                                              for line in public.pem.splitlines()), end="")
