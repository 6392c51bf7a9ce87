"""Push and read a container image's attestation in the layout cosign reads.

Beside image ``<repository>@sha256:<hex>`` the registry holds tag ``sha256-<hex>.att``: an
OCI image manifest whose one layer is the DSSE envelope (media type
``application/vnd.dsse.envelope.v1+json``), so admission controllers that read cosign's
attestations find kiln's. Registry HTTP API v2; plain HTTP only for loopback, as Docker
itself allows. (ECR speaks the same API but needs a login token: kiln pushes to it only
through a registry reachable without one.)
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from kiln.errors import BakeError, BuildError
from kiln.evidence import provenance
from kiln.release.record import ArtifactRecord
from kiln.release.signing import Signer

DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
REPOSITORY = re.compile(r"^(?P<host>[a-z0-9.-]+(?::\d+)?)/"
                        r"(?P<path>[a-z0-9._-]+(?:/[a-z0-9._-]+)*)$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TIMEOUT = 10


def attestation_tag(image_digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.att`` (cosign's tag for an image's attestations)."""
    if not DIGEST.fullmatch(image_digest):
        raise BakeError(f"image digest {image_digest!r} is not sha256:<64 hex>")
    return image_digest.replace(":", "-") + ".att"


def _base(repository: str) -> str:
    match = REPOSITORY.fullmatch(repository)
    if not match:
        raise BakeError(f"repository {repository!r} is not <registry host>[:port]/<path>")
    host = match["host"].rsplit(":", 1)[0]
    scheme = "http" if host in ("localhost", "127.0.0.1") or host.startswith("127.") \
        else "https"
    return f"{scheme}://{match['host']}/v2/{match['path']}"


def _call(method: str, url: str, body: bytes | None = None,
          headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    # The URL is always http(s) to the repository's own host (see _base).
    request = urllib.request.Request(url, data=body, method=method,  # noqa: S310
                                     headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return 404, {}, b""
        raise BuildError(f"registry: {method} {urllib.parse.urlsplit(url).path} answered "
                         f"{error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise BuildError(f"registry {urllib.parse.urlsplit(url).netloc} is not reachable "
                         f"({reason})") from None


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "size": len(data),
            "digest": "sha256:" + hashlib.sha256(data).hexdigest()}


def _upload(base: str, data: bytes) -> None:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if _call("HEAD", f"{base}/blobs/{digest}")[0] == 200:
        return
    _, headers, _ = _call("POST", f"{base}/blobs/uploads/")
    location = headers.get("Location") or headers.get("location") or ""
    target = urllib.parse.urljoin(base + "/", location)
    if urllib.parse.urlsplit(target).netloc != urllib.parse.urlsplit(base).netloc:
        raise BuildError(f"registry sent the upload to another host ({target})")
    joiner = "&" if "?" in target else "?"
    _call("PUT", f"{target}{joiner}digest={urllib.parse.quote(digest)}", data,
          {"Content-Type": "application/octet-stream"})


def push(repository: str, image_digest: str, envelope: Mapping[str, Any],
         predicate_type: str) -> str:
    """Push ``envelope`` as the attestation of ``repository@image_digest``; return the
    manifest's digest. Pushing the same envelope again changes nothing."""
    base = _base(repository)
    layer = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    layer_desc = _descriptor(DSSE_MEDIA_TYPE, layer)
    layer_desc["annotations"] = {"dev.cosignproject.cosign/signature": "",
                                 "predicateType": predicate_type}
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "created": "0001-01-01T00:00:00Z",
                         "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}},
                        sort_keys=True, separators=(",", ":")).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_MEDIA_TYPE,
                           "config": _descriptor(CONFIG_MEDIA_TYPE, config),
                           "layers": [layer_desc]},
                          sort_keys=True, separators=(",", ":")).encode()
    _upload(base, config)
    _upload(base, layer)
    _call("PUT", f"{base}/manifests/{attestation_tag(image_digest)}", manifest,
          {"Content-Type": MANIFEST_MEDIA_TYPE})
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def read(repository: str, image_digest: str) -> list[dict[str, Any]]:
    """The DSSE envelopes attached to ``repository@image_digest`` (empty when none)."""
    base = _base(repository)
    status, _, body = _call("GET", f"{base}/manifests/{attestation_tag(image_digest)}",
                            headers={"Accept": MANIFEST_MEDIA_TYPE})
    if status == 404:
        return []
    envelopes = []
    for layer in json.loads(body).get("layers", []):
        if layer.get("mediaType") != DSSE_MEDIA_TYPE or not DIGEST.fullmatch(
                str(layer.get("digest"))):
            continue
        _, _, blob = _call("GET", f"{base}/blobs/{layer['digest']}")
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer["digest"]:
            raise BuildError(f"registry served a blob that is not {layer['digest']}")
        envelopes.append(json.loads(blob))
    return envelopes


def push_record(record: ArtifactRecord, record_digest: str, signer: Signer,
                plugins: Mapping[str, str] | None = None) -> str | None:
    """Attest a container record's image in its registry; None for an AMI record."""
    if record.kind != "container":
        return None
    image, repository = record.locations()[0]
    body = provenance.statement(record, record_digest, image, repository, plugins)
    return push(repository, image, provenance.envelope(body, signer),
                provenance.PREDICATE_TYPE)
