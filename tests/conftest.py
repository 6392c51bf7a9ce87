"""Shared fixtures: the project, its stacks, and a recording mock run of components."""

from __future__ import annotations

import logging
import shutil
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler, ThreadedMotoServer
from werkzeug.serving import make_server

from kiln.model.stack import StackSettings
from kiln.preview import capture
from kiln.project import stackfiles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def project() -> stackfiles.Project:
    return stackfiles.load_project(ROOT)


@pytest.fixture(scope="session")
def stack_names(project: stackfiles.Project) -> list[str]:
    return project.stacks()


@pytest.fixture(scope="session")
def dev_settings(project: stackfiles.Project) -> StackSettings:
    return stackfiles.load_settings(project, "dev")


@pytest.fixture
def run_components() -> Callable[..., Any]:
    """Run a callable that builds components under the recording mock monitor."""

    def run(body: Callable[[], Any], stack: str = "test",
            region: str = "eu-west-1") -> capture.Capture:
        return capture.run(body, "kiln", stack, {"aws:region": region})

    return run


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of the project (stack files and Pulumi.yaml; the program is shared)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", root / "stacks")
    (root / "infra").symlink_to(ROOT / "infra")
    monkeypatch.setenv("KILN_PROJECT_DIR", str(root))
    yield root


def _serial_moto_server() -> Any:
    """moto's threaded server, handling one request at a time.

    DynamoDB's conditional writes are atomic; moto's are only when requests do not
    interleave, and the lock and ledger tests race many processes against them.
    """

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            lock = threading.Lock()

            def serial(environ: Any, start_response: Any) -> Any:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(self._ip_address, self._port, serial, True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (random port) as the AWS API for the whole session.

    Sets ``AWS_ENDPOINT_URL`` and test credentials so every boto3 client — in this process
    and in subprocesses such as packer or ``kiln`` — talks to it.
    """
    # One line per request is noise in a failing test's output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = _serial_moto_server()
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", endpoint)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_SESSION_TOKEN", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        patch.delenv("AWS_PROFILE", raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def aws(moto_server: str) -> str:
    """The moto endpoint, emptied before the test so tests do not see each other's state."""

    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_server


# Fixtures that start a real stand-in (the AWS emulator, the policy pack's server, Packer,
# dockerd), and folders whose every test drives one. A test that uses one must carry the
# `integration` marker, so `pytest -m "not integration"` is the fast tier.
STAND_IN_FIXTURES = frozenset({"moto_server", "aws", "analyzer", "bake_project", "docker",
                               "packer_cache"})
STAND_IN_FOLDERS = ("integration", "cli")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = []
    for item in items:
        folder = item.path.relative_to(ROOT / "tests").parts[0]
        uses = STAND_IN_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if (uses or folder in STAND_IN_FOLDERS) and item.get_closest_marker("integration") is None:
            unmarked.append(item.nodeid)
    if unmarked:
        raise pytest.UsageError("tests that drive a stand-in without the `integration` "
                                "marker:\n  " + "\n  ".join(unmarked))
