"""One audit end to end: resources → the pack's rules → a :class:`Report`.

By default the rules run in this process (:mod:`kiln.audit.inprocess`); with
``analyzer=True`` the pack is started as the engine starts it and asked over gRPC
(:mod:`kiln.audit.analyzer`). Both read the same config file, validated the same way, and
the same waivers, and their answers go through the same collector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from kiln.audit import html, inprocess, packconfig, sarif
from kiln.audit import junit as junit_xml
from kiln.audit.report import Collector, Report, sort_findings
from kiln.audit.sources import AuditError, Source
from kiln.project.files import atomic_write
from kiln.project.layout import PACK_DIR, top_level_value

log = logging.getLogger(__name__)


def pack_dir(root: Path) -> Path:
    path = root / PACK_DIR
    if not (path / "PulumiPolicy.yaml").is_file():
        raise AuditError(f"no policy pack at {path} (expected PulumiPolicy.yaml)")
    return path


def evaluate(source_factory: Callable[[], Source], *, pack: Path, environment: str,
             project: str, stack: str, config: dict[str, str],
             waivers: Path | None = None, analyzer: bool = False) -> Report:
    """Evaluate the source's resources against the pack and build the report.

    ``config`` is the stack config the pack sees (``PULUMI_CONFIG``; empty for an export,
    whose providers carry their region).
    """
    file_config = packconfig.load(pack, environment)
    if analyzer:
        return _over_grpc(source_factory, pack=pack, environment=environment, project=project,
                          stack=stack, config=config, waivers=waivers, file_config=file_config)
    started = time.perf_counter()
    rules = inprocess.load(pack)
    infos = inprocess.infos(rules)
    policy_config = packconfig.reconcile(infos, file_config,
                                         str(packconfig.config_path(pack, environment)))
    loaded_waivers = inprocess.load_waivers(rules, pack, waivers)
    source = source_factory()
    ready = time.perf_counter()
    evaluator = inprocess.Evaluator(rules, policy_config, loaded_waivers, stack=stack,
                                    stack_config=config)
    return _report(source, evaluator.evaluate(source), pack=pack, environment=environment,
                   name=rules.name, infos=infos, policy_config=policy_config, started=started,
                   ready=ready)


def _over_grpc(source_factory: Callable[[], Source], *, pack: Path, environment: str,
               project: str, stack: str, config: dict[str, str], waivers: Path | None,
               file_config: dict[str, Any]) -> Report:
    # gRPC and the engine's protocol load only for --analyzer.
    import grpc  # noqa: PLC0415

    from kiln.audit.analyzer import Analyzer, Requests  # noqa: PLC0415

    with Analyzer(pack, project=project, stack=stack, config=config,
                  waivers=waivers) as server:
        started = server.started
        source = source_factory()
        try:
            server.connect()
            info = server.info()
            infos = packconfig.policies(info)
            policy_config = packconfig.reconcile(
                infos, file_config, str(packconfig.config_path(pack, environment)))
            server.configure(policy_config)
            ready = time.perf_counter()
            answers = list(server.evaluate(Requests(source.analyzed, source.resources)))
        except grpc.RpcError as error:
            details = error.details() if isinstance(error, grpc.Call) else str(error)
            raise AuditError(f"the policy pack failed: {' '.join(str(details).split())}") \
                from None
        return _report(source, answers, pack=pack, environment=environment, name=info.name,
                       infos=infos, policy_config=policy_config, started=started, ready=ready)


def _report(source: Source, answers: Iterable[tuple[Any, Any]], *, pack: Path,
            environment: str, name: str, infos: list[packconfig.PolicyInfo],
            policy_config: packconfig.PolicyConfig, started: float, ready: float) -> Report:
    frameworks = packconfig.frameworks(pack, {p.name for p in infos})
    levels = {rule: level for rule, (level, _) in policy_config.items()}
    collector = Collector(source, infos, levels)
    for resource, response in answers:
        if resource is None:
            collector.stack(response)
        else:
            collector.resource(resource.urn, response)
    done = time.perf_counter()
    durations = {"ready": ready - started, "evaluate": done - ready, "total": done - started}
    return Report(project=source.project, stack=source.stack, environment=environment,
                  origin=source.origin, pack={"name": name, "version": _version(pack)},
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
