"""One audit end to end: resources → the policy pack over gRPC → a :class:`Report`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiln.audit import html, packconfig, process, sarif
from kiln.audit import junit as junit_xml
from kiln.audit.analyzer import Analyzer, Requests
from kiln.audit.sources import AuditError, Source
from kiln.project.files import atomic_write
from kiln.project.layout import PACK_DIR, top_level_value

if TYPE_CHECKING:
    from kiln.audit.report import Report

log = logging.getLogger(__name__)



def pack_dir(root: Path) -> Path:
    path = root / PACK_DIR
    if not (path / "PulumiPolicy.yaml").is_file():
        raise AuditError(f"no policy pack at {path} (expected PulumiPolicy.yaml)")
    return path


def evaluate(source_factory: Callable[[], Source], *, pack: Path, environment: str,
             project: str, stack: str, config: dict[str, str],
             waivers: Path | None = None) -> Report:
    """Start the pack, build the source meanwhile, then evaluate it as the engine would.

    ``config`` is the stack config the pack sees in ``PULUMI_CONFIG`` (empty for an export,
    whose providers carry their region). The pack is started first, or taken over from
    :mod:`kiln.cli.launch` when that started it for this very audit, so that it boots while the
    source and the requests are built.
    """
    file_config = packconfig.load(pack, environment)
    with _adopt_or_start(pack, project=project, stack=stack, config=config,
                         waivers=waivers) as analyzer:
        # Loaded while the pack boots, not before it starts.
        import grpc  # noqa: PLC0415, after the pack is started: it boots while this loads

        try:
            return _evaluate(analyzer, source_factory, pack=pack, environment=environment,
                             file_config=file_config)
        except grpc.RpcError as error:
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            raise AuditError(f"the policy pack failed: {' '.join(str(details).split())}") \
                from None


def _adopt_or_start(pack: Path, *, project: str, stack: str, config: dict[str, str],
                    waivers: Path | None) -> Analyzer:
    """An analyzer on the pack :mod:`kiln.cli.launch` started early for this very audit, or on a
    new one."""
    early = process.take(process.launch(pack, project=project, stack=stack, config=config,
                                        waivers=waivers))
    return Analyzer(pack, project=project, stack=stack, config=config, waivers=waivers,
                    started=early)


def _evaluate(analyzer: Analyzer, source_factory: Callable[[], Source], *, pack: Path,
              environment: str, file_config: dict[str, Any]) -> Report:
    # Loaded while the pack boots, not before it starts.
    from kiln.audit.report import Collector, Report, sort_findings  # noqa: PLC0415, the pack is booting

    started = time.perf_counter()
    source = source_factory()
    requests = Requests(source.analyzed, source.resources)
    # While the pack boots: the mappings, the module that reads its answer, the requests.
    mappings = packconfig.read_frameworks(pack)
    packconfig.prepare()
    analyzer.connect(meanwhile=requests.build)
    connected = time.perf_counter()
    info = analyzer.info()
    infos = packconfig.policies(info)
    frameworks = packconfig.check_frameworks(mappings, {p.name for p in infos})
    policy_config = packconfig.reconcile(
        infos, file_config, str(packconfig.config_path(pack, environment)))
    analyzer.configure(policy_config)
    levels = {name: level for name, (level, _) in policy_config.items()}
    collector = Collector(source, infos, levels)
    analyzed = connected
    for resource, response in analyzer.evaluate(requests):
        if resource is None:
            collector.stack(response)
        else:
            collector.resource(resource.urn, response)
            analyzed = time.perf_counter()
    done = time.perf_counter()
    durations = {"packReady": connected - analyzer.started, "analyze": analyzed - connected,
                 "analyzeStack": done - analyzed, "total": done - analyzer.started,
                 "source": connected - started}
    return Report(project=source.project, stack=source.stack, environment=environment,
                  origin=source.origin, pack={"name": info.name, "version": _version(pack)},
                  rules=sorted(infos, key=lambda p: p.name), levels=levels,
                  frameworks=frameworks, resources=len(source.analyzed),
                  findings=sort_findings(collector.findings), checks=collector.checks,
                  durations={k: round(v, 3) for k, v in durations.items()})


def _version(pack: Path) -> str:
    """The version in PulumiPolicy.yaml (the engine prefers it over the SDK's)."""
    return top_level_value(pack / "PulumiPolicy.yaml", "version") or ""


def write_reports(report: Report, formats: Sequence[str], out_dir: Path) -> list[Path]:
    """Write each requested format into ``out_dir``; returns the files written."""
    writers = {"json": ("json", report.dumps), "sarif": ("sarif", lambda: sarif.dumps(report)),
               "junit": ("xml", lambda: junit_xml.dumps(report)),
               "html": ("html", lambda: html.render(report))}
    written = []
    for name in formats:
        suffix, render = writers[name]
        path = out_dir / f"audit-{report.stack}.{suffix}"
        atomic_write(path, render())
        written.append(path)
    return written
