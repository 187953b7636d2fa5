"""``netwarden auditor``: run the traffic auditor on pcap files, an interface or a capture directory.

Mounted by the top-level CLI (``netwarden/cli/app.py``, :func:`register`) when the
command is looked up. Exit codes: 0 nothing at or above
medium, 1 at least one such event, 2 usage or bad input.

SIGINT and SIGTERM (what systemd sends) stop a run the same way: the batch in hand
is finished, open incidents are flushed to the sinks, the summary is printed, and
the exit code is that of any other run. A second signal abandons the batch in hand
(what was found is still flushed); a third kills the process.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from collectors.auditor.capture import BatchSource, FileSource, WatchDirSource, open_live
from collectors.auditor.config import AuditorConfigError, load_auditor_config_snapshot
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import Event, EventSink, JsonLinesSink, Severity, SyslogSink
from collectors.auditor.status import RunStatus, showing
from netwarden import __version__
from netwarden.cli.common import (
    SEVERITY_STYLE,
    VaultOpt,
    _fail,
    _load,
    exit_for,
    exit_process,
    is_terminal,
)
from netwarden.errors import NetwardenError
from netwarden.signals import GracefulStop
from netwarden.textsafe import printable

logger = logging.getLogger(__name__)

auditor_app = typer.Typer(
    help="The traffic auditor: scans, password guessing, spoofing, tunnels, clear-text "
    "credentials and flows the policy forbids, as events (JSON lines) and metrics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def parse_hostport(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (``default_host``, loopback) or ``[v6]:PORT`` -> (host, port).

    Examples:
        >>> parse_hostport("0.0.0.0:9431"), parse_hostport(":9431"), parse_hostport("[::1]:9431")
        (('0.0.0.0', 9431), ('127.0.0.1', 9431), ('::1', 9431))
    """
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9431)")
    host = host.strip("[]") or default_host
    return host, int(port)


DEFAULT_SPOOL_SIZE = "100M"
"""``--spool-max-bytes`` unless told otherwise (``spool.DEFAULT_SPOOL_BYTES``)."""

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """A size in bytes, more than 0: ``N``, or ``N`` followed by K, M or G (binary: 1024),
    optionally with a B (``64MB``). The one parser of every size option of the auditor
    (``--spool-max-bytes``, ``--evidence-max-bytes``).

    Examples:
        >>> parse_size("4096"), parse_size("100M"), parse_size("2g"), parse_size("64MB")
        (4096, 104857600, 2147483648, 67108864)
    """
    m = re.fullmatch(r"(\d+)([kKmMgG]?)[bB]?", text.strip())
    if m is None or int(m[1]) == 0:
        raise ValueError(f"{text!r} is not a size in bytes (e.g. 4096, 64K, 100M, 2G)")
    return int(m[1]) * _SIZE_UNITS[m[2].upper()]


FORMATS = ("netwarden", "ecs")
"""``--events-format``/``--syslog-format``: the event's own JSON, or its ECS document."""


def _check_format(flag: str, name: str) -> None:
    if name not in FORMATS:
        raise ValueError(f"{flag} {name!r}: expected one of {', '.join(FORMATS)}")


def _renderer(name: str) -> Callable[[Event], str]:
    """The function that writes an event in format ``name`` (of :data:`FORMATS`)."""
    if name == "ecs":
        from collectors.auditor.ecs import ecs_json  # noqa: PLC0415  (only when asked for)

        return ecs_json
    return Event.to_json


def _syslog_sink(  # noqa: PLR0917  (the --syslog options, checked together)
    target: SyslogTarget,
    render: Callable[[Event], str],
    ca: Path | None,
    cert: Path | None,
    key: Path | None,
    spool_dir: Path | None,
    spool_max: int,
    stats: ForwardStats,
    hostname: str | None = None,
) -> EventSink:
    """The sink ``--syslog`` names, or a usage error (a ``ValueError`` in words).

    ``hostname`` is the messages' HOSTNAME: the ``--sensor`` name when given (the
    sensor's identity at HQ, also when several auditors share a machine, as the
    namespace lab's do), else the machine's host name.
    """
    # Imported here: the TLS module and the spool cost start-up a run without --syslog skips.
    from collectors.auditor.forward import TcpSyslogSink, tls_context  # noqa: PLC0415
    from collectors.auditor.spool import DiskSpool, MemorySpool, Spool  # noqa: PLC0415

    if target.scheme != "tls" and (ca or cert or key):
        raise ValueError(
            "--syslog-ca, --syslog-cert and --syslog-key need --syslog tls://HOST:PORT"
        )
    if key is not None and cert is None:
        raise ValueError("--syslog-key needs --syslog-cert (the client certificate it belongs to)")
    if target.scheme == "udp":
        if spool_dir is not None:
            raise ValueError("--spool needs --syslog tcp:// or tls:// (UDP is not acknowledged)")
        return SyslogSink(target.host, target.port, render=render, hostname=hostname)
    for flag, path in (("--syslog-ca", ca), ("--syslog-cert", cert), ("--syslog-key", key)):
        if path is not None and not path.is_file():
            raise ValueError(f"{flag} {path}: no such file")
    tls = None
    if target.scheme == "tls":
        try:
            tls = tls_context(ca, cert, key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ValueError(
                f"--syslog {target.scheme}://: cannot load the TLS files: {exc}"
            ) from exc
    spool: Spool = (
        DiskSpool(spool_dir, spool_max) if spool_dir is not None else MemorySpool(spool_max)
    )
    return TcpSyslogSink(
        target.host, target.port, render=render, tls=tls, spool=spool, stats=stats,
        hostname=hostname,
    )  # fmt: skip


def _with_progress(source: Iterable[Batch], progress: Progress) -> Iterator[Batch]:
    """Batches of ``source``, advancing a per-file progress line (packets so far)."""
    from rich.markup import escape  # noqa: PLC0415  (a terminal only)
    from rich.progress import TaskID  # noqa: PLC0415

    tasks: dict[str, TaskID] = {}
    counts: dict[str, int] = {}
    for batch in source:
        name = escape(printable(Path(batch.source).name, multiline=False))  # markup below
        if name not in tasks:
            for done in tasks.values():
                progress.update(done, total=1, completed=1)
            tasks[name] = progress.add_task(name, total=None)
        counts[name] = counts.get(name, 0) + len(batch)
        progress.update(tasks[name], description=f"{name}: {counts[name]:,} packets")
        yield batch
    for done in tasks.values():
        progress.update(done, total=1, completed=1)


STATE_NAME = ".netwarden-auditor-state.json"
"""The ``--watch`` state file's default name, in the watched directory (a hidden name:
never taken for a capture)."""

DEFAULT_SETTLE = 5.0
"""Seconds a watched file must be unchanged to count as closed, when nothing else says so."""


def _source(
    pcap: list[Path] | None,
    interface: str | None,
    watch: Path | None,
    bpf: str | None,
    settle: float = DEFAULT_SETTLE,
    *,
    state_file: Path | None = None,
) -> BatchSource:
    """The capture input the options name (files, a live interface or a directory)."""
    if pcap:
        return FileSource(pcap)
    if interface:
        return open_live(interface, bpf)
    if watch is None:
        raise ValueError("one of pcap, interface or watch is required")
    return WatchDirSource(watch, settle_seconds=settle, state_file=state_file or watch / STATE_NAME)


DEFAULT_EVIDENCE_MAX_BYTES = "256M"
"""What ``--evidence`` writes per run at most unless ``--evidence-max-bytes`` says otherwise."""

DEFAULT_TOP = 50
"""Incidents listed in the end-of-run table unless ``--top`` says otherwise."""


if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from collectors.auditor.batch import Batch
    from collectors.auditor.evidence import EvidenceSettings
    from collectors.auditor.fanout import FanoutRun
    from collectors.auditor.forward import ForwardStats, SyslogTarget
    from collectors.httpserve import MetricsServer
    from collectors.webconfig import WebConfig
    from netwarden.inventory.flows import Placement

    Place = Callable[[str], Placement]
    """Where an address lives (``FlowPolicyEngine.place``): its site and zone in the table."""


def _shown(text: str) -> Text:
    """Packet data (names, hosts, user names) as one line of text: control characters
    escaped (an ``ESC`` sequence cannot clear the screen or plant a hyperlink), and never
    read as Rich markup (``[bold red]`` stays literal)."""
    from rich.text import Text  # noqa: PLC0415  (Rich: for a person only)

    return Text(printable(text, multiline=False))


def _where(address: str, place: Place | None) -> str:
    """``10.11.40.66 (nyc/guests)`` with an inventory; the address alone otherwise, for a
    MAC address, and for an address in no planned subnet."""
    if not address or place is None:
        return address
    try:
        placement = place(address)
    except ValueError:  # a MAC address: it has no zone
        return address
    return address if placement.zone is None else f"{address} ({placement.label})"


def _ends(src: str, dst: str, place: Place | None) -> Text:
    """The src/dst cell: the source, and the destination under it (``→ dst``)."""
    cell = _shown(_where(src, place))
    if dst:
        cell.append("\n→ ")
        cell.append_text(_shown(_where(dst, place)))
    return cell


def summary_table(summary: RunSummary, top: int = DEFAULT_TOP, place: Place | None = None) -> Table:
    """The end-of-run table: the ``top`` most severe incidents (0: all), then what was left out.

    A busy trace has thousands of incidents (every scanning source is one): the
    table lists the first ``top`` (``summary.incidents`` is most severe first) and
    its caption counts the rest by detector; all of them are in the events file
    and in ``--json``. ``place`` (the inventory's) adds each address's site and
    zone. Values from packets are shown as text, control characters escaped
    (:func:`_shown`). The table is printed by a ``ReadableConsole``: it folds, never crops.
    """
    from rich.table import Table  # noqa: PLC0415  (Rich: for a person only)
    from rich.text import Text  # noqa: PLC0415

    incidents = summary.incidents if top <= 0 else summary.incidents[:top]
    table = Table(
        title=f"auditor: {summary.packets:,} packets, {len(summary.incidents)} incident(s)"
    )
    left = Counter(ev.detector for ev in summary.incidents[len(incidents) :])
    if left:
        by_detector = ", ".join(f"{det} {n:,}" for det, n in left.most_common())
        table.caption = Text(
            printable(
                f"... and {sum(left.values()):,} more ({by_detector}): all of them are in the "
                "--events file and in --json; --top 0 lists every one"
            )
        )
    table.add_column("severity / detector", no_wrap=True)
    table.add_column("src / dst", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("summary")
    for ev in incidents:
        kind = Text(ev.severity.value, style=SEVERITY_STYLE.get(ev.severity.value, "dim"))
        kind.append("\n")
        kind.append_text(_shown(ev.detector))
        table.add_row(kind, _ends(ev.src, ev.dst, place), str(ev.count), _shown(ev.summary))
    return table


def end_line(summary: RunSummary) -> Text:
    """The line under the table: volumes, errors, time, detectors run and skipped (why)."""
    from rich.text import Text  # noqa: PLC0415  (Rich: for a person only)

    errors = sum(summary.decode_errors.values()) + sum(summary.input_errors.values())
    line = (
        f"{summary.packets:,} packets, {summary.bytes:,} bytes, {errors:,} decode errors, "
        f"{summary.duration_seconds:.2f} s; detectors: {', '.join(summary.detectors)}"
    )
    if summary.skipped_detectors:
        skipped = ", ".join(f"{k} ({v})" for k, v in summary.skipped_detectors.items())
        line += f"; skipped: {skipped}"
    if summary.evidence_dir:
        ev = summary.evidence
        line += f"; evidence: {ev.get('files', 0):,} pcap(s) in {summary.evidence_dir}"
        if ev.get("pruned_files") or ev.get("dropped_packets"):
            line += (
                f" ({ev.get('pruned_files', 0):,} pruned, "
                f"{ev.get('dropped_packets', 0):,} packets over the bounds)"
            )
    return Text(printable(line, multiline=False))


def _err_console() -> Console:
    """The stderr console, imported (with Rich) when something is shown on it."""
    from netwarden.cli.readable import err_console  # noqa: PLC0415

    return err_console


def _run(
    engine: Engine,
    source: BatchSource,
    *,
    progress: bool,
    status_every: float | None = None,
    fan: FanoutRun | None = None,
) -> RunSummary:
    """Run ``engine`` over ``source``: with a progress bar per file for ``--pcap`` on a
    terminal, else with a status line on stderr (:mod:`collectors.auditor.status`);
    with ``--workers``, ``fan`` runs the capture processes and merges into ``engine``."""
    if progress and is_terminal(stderr=True):
        from rich.progress import (  # noqa: PLC0415  (a terminal only)
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from netwarden.cli.readable import err_console  # noqa: PLC0415

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console,
        ) as bar:
            return engine.run(_with_progress(source, bar))
    status = RunStatus(engine.stats, source)
    with showing(status, _err_console, status_every, terminal=is_terminal(stderr=True)):
        return fan.run(engine) if fan is not None else engine.run(source)


@auditor_app.callback(invoke_without_command=True)
def auditor(  # noqa: PLR0912, PLR0917  (one typer command: its options, checks, one run)
    pcap: Annotated[
        list[Path] | None,
        typer.Option(
            "--pcap",
            help="pcap/pcapng file(s) to read, plain or compressed; - reads standard input.",
        ),
    ] = None,
    interface: Annotated[
        str | None, typer.Option("--interface", help="Capture live from this interface.")
    ] = None,
    watch: Annotated[
        Path | None,
        typer.Option("--watch", help="Process capture files in this directory as they close."),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Inventory (enables policy_violation/unknown_device and the auditor config).",
        ),
    ] = None,
    vault_password_file: VaultOpt = None,
    site: Annotated[
        str | None, typer.Option("--site", help="The site this sensor watches.")
    ] = None,
    sensor: Annotated[
        str | None,
        typer.Option(
            "--sensor", help="Sensor name in events and the syslog HOSTNAME (default: host name)."
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Append events (JSON lines) to this file.")
    ] = None,
    metrics_listen: Annotated[
        str | None,
        typer.Option(
            "--metrics-listen",
            help="Serve Prometheus metrics on HOST:PORT (:PORT is loopback; 0.0.0.0:PORT all).",
        ),
    ] = None,
    web_config: Annotated[
        Path | None,
        typer.Option(
            "--web-config",
            help="TLS and basic auth for --metrics-listen (Prometheus exporter-toolkit format).",
        ),
    ] = None,
    events_format: Annotated[
        str,
        typer.Option(
            "--events-format",
            help="--events lines: netwarden (the event schema) or ecs (Elastic Common Schema).",
        ),
    ] = "netwarden",
    syslog: Annotated[
        str | None,
        typer.Option(
            "--syslog",
            help="Also send events as RFC 5424 syslog: HOST:PORT or udp://HOST:PORT over UDP; "
            "tcp://HOST[:514] or tls://HOST[:6514] to HQ (octet-counted, queued, spooled "
            "while HQ is unreachable).",
        ),
    ] = None,
    syslog_format: Annotated[
        str,
        typer.Option("--syslog-format", help="The syslog MSG: netwarden (event JSON) or ecs."),
    ] = "netwarden",
    syslog_ca: Annotated[
        Path | None,
        typer.Option(
            "--syslog-ca",
            help="tls://: CA file the server's certificate must chain "
            "to (default: the system's CAs); its name is checked too.",
        ),
    ] = None,
    syslog_cert: Annotated[
        Path | None,
        typer.Option("--syslog-cert", help="tls://: client certificate (PEM), if HQ asks."),
    ] = None,
    syslog_key: Annotated[
        Path | None, typer.Option("--syslog-key", help="tls://: the client certificate's key.")
    ] = None,
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            help="tcp://, tls://: keep undelivered events in this directory (survives a "
            "restart; default: in memory).",
        ),
    ] = None,
    spool_max_bytes: Annotated[
        str,
        typer.Option(
            "--spool-max-bytes",
            help="Bound of the spool (bytes, or 64K, 100M, 2G); the oldest events are dropped "
            "and counted beyond it.",
        ),
    ] = DEFAULT_SPOOL_SIZE,
    detector: Annotated[
        list[str] | None, typer.Option("--detector", help="Run only these detectors (repeatable).")
    ] = None,
    bpf: Annotated[
        str | None, typer.Option("--bpf", help="Kernel BPF filter for --interface.")
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0,
            help="--watch: read a file once it has been unchanged this long (seconds) when "
            "neither inotify (closed, moved in) nor a newer file says it is complete.",
        ),
    ] = DEFAULT_SETTLE,
    state_file: Annotated[
        Path | None,
        typer.Option(
            "--state-file",
            help="--watch: where to keep how far each file was read, so a restart neither "
            f"repeats nor skips packets (default: {STATE_NAME} in the watched directory).",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", help="Stop --interface/--watch after this many seconds.", min=0),
    ] = None,
    evidence: Annotated[
        Path | None,
        typer.Option(
            "--evidence",
            help="Write an evidence pcap per incident into this directory (its first "
            "packets and their context; the event names it in evidence.pcap). Off by default.",
        ),
    ] = None,
    evidence_max_bytes: Annotated[
        str,
        typer.Option(
            "--evidence-max-bytes",
            help="--evidence: bytes a run writes at most (e.g. 256M); past it the oldest "
            "evidence files of the run are deleted.",
        ),
    ] = DEFAULT_EVIDENCE_MAX_BYTES,
    as_json: Annotated[bool, typer.Option("--json", help="Summary as JSON on stdout.")] = False,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=0,
            help="Incidents listed in the summary table, most severe first (0: all).",
        ),
    ] = DEFAULT_TOP,
    status_every: Annotated[
        float | None,
        typer.Option(
            "--status-every",
            min=0,
            help="Seconds between status lines on stderr (files, packets, incidents); "
            "default 1 on a terminal (redrawn in place), 30 otherwise; 0: none.",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="--interface: capture processes sharing the frames (PACKET_FANOUT by host "
            "pair); one per core to use.",
        ),
    ] = 1,
) -> None:
    """Audit traffic: exactly one of --pcap, --interface or --watch."""
    given = [x for x in (pcap, interface, watch) if x]
    if len(given) != 1:
        raise _fail("give exactly one of --pcap FILE..., --interface IFACE or --watch DIR")
    if workers > 1 and not interface:
        raise _fail("--workers is for --interface")
    if workers > 1 and evidence is not None:
        # the workers decode the packets; the parent, which would write evidence, sees none
        raise _fail("--evidence needs one capture process: leave out --workers")
    if [str(p) for p in pcap or []].count("-") > 1:
        raise _fail("--pcap -: standard input can be read once")
    for path in pcap or []:
        # a file, a pipe (/dev/stdin, a FIFO), or - for standard input
        if str(path) == "-":
            if sys.stdin is None or sys.stdin.isatty():
                raise _fail(
                    "--pcap -: standard input is a terminal, not a capture "
                    "(pipe one in: tcpdump -w - | netwarden auditor --pcap -)"
                )
        elif not path.exists():
            raise _fail(f"--pcap {path}: no such file")
        elif path.is_dir():
            raise _fail(f"--pcap {path}: a directory (--watch DIR reads the captures in one)")
    if watch is not None and not watch.is_dir():
        raise _fail(f"--watch {watch}: not a directory")
    try:
        metrics_addr = parse_hostport(metrics_listen) if metrics_listen else None
        syslog_target = None
        if syslog:
            from collectors.auditor.forward import parse_syslog_target  # noqa: PLC0415

            syslog_target = parse_syslog_target(syslog)
        spool_max = parse_size(spool_max_bytes)
        _check_format("--events-format", events_format)
        _check_format("--syslog-format", syslog_format)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    evidence_settings: EvidenceSettings | None = None
    if evidence is not None:
        from collectors.auditor.evidence import EvidenceSettings  # noqa: PLC0415

        try:
            run_cap = parse_size(evidence_max_bytes)
            evidence_settings = EvidenceSettings(
                evidence, total_bytes=run_cap, max_bytes=min(EvidenceSettings.max_bytes, run_cap)
            )
        except ValueError as exc:
            raise _fail(f"--evidence-max-bytes {evidence_max_bytes}: {exc}") from exc
    if web_config is not None and metrics_addr is None:
        raise _fail("--web-config secures --metrics-listen: give --metrics-listen HOST:PORT too")
    web: WebConfig | None = None
    if web_config is not None:
        # Imported here: TLS, bcrypt and prometheus_client cost start-up a plain run does not need.
        from collectors.webconfig import load_web_config  # noqa: PLC0415

        try:
            web = load_web_config(web_config)
        except NetwardenError as exc:
            raise _fail(str(exc)) from exc

    inv = None
    try:
        if inventory is not None:
            inv = _load(inventory, vault_password_file, snapshot=True)  # no secret used
            if site is not None and site not in inv.sites:
                raise _fail(
                    f"--site {site}: not a site of {inventory} (sites: {', '.join(inv.sites)})"
                )
        config = load_auditor_config_snapshot(inventory, vault_password_file)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc

    if syslog_target is None and (syslog_ca or syslog_cert or syslog_key or spool):
        raise _fail("--syslog-ca, --syslog-cert, --syslog-key and --spool need --syslog")
    forward: ForwardStats | None = None
    sinks: list[EventSink] = []
    if syslog_target is not None:
        from collectors.auditor.forward import ForwardStats  # noqa: PLC0415
        from collectors.auditor.spool import SpoolError  # noqa: PLC0415

        forward = ForwardStats() if syslog_target.scheme != "udp" else None
        try:
            sinks.append(
                _syslog_sink(
                    syslog_target,
                    _renderer(syslog_format),
                    syslog_ca,
                    syslog_cert,
                    syslog_key,
                    spool,
                    spool_max,
                    forward or ForwardStats(),
                    sensor,
                )
            )
        except (ValueError, SpoolError) as exc:
            raise _fail(str(exc)) from exc
    if events is not None:
        sinks.append(JsonLinesSink(events, _renderer(events_format)))
    try:
        engine = Engine(
            config,
            sinks,
            site=site,
            sensor=sensor or socket.gethostname(),
            inventory=inv,
            only=detector,
            evidence=evidence_settings,
        )
    except AuditorConfigError as exc:
        for sink in sinks:  # the syslog sender thread, the spool's lock
            sink.close()
        raise _fail(str(exc)) from exc
    except OSError as exc:  # the evidence directory cannot be created
        for sink in sinks:
            sink.close()
        raise _fail(f"--evidence {evidence}: {exc.strerror or exc}") from exc
    gc.enable()  # paused for the start-up (netwarden.cli.app.main); the engine froze it

    try:
        fan: FanoutRun | None = None
        if interface and workers > 1:
            from collectors.auditor.fanout import FanoutRun, WorkerSpec  # noqa: PLC0415

            fan = FanoutRun(
                WorkerSpec(
                    interface,
                    bpf,
                    os.getpid() & 0xFFFF,
                    config,
                    site,
                    engine.sensor,
                    inv,
                    tuple(detector) if detector else None,
                ),
                workers,
            )
        source: BatchSource = (
            fan
            if fan is not None
            else _source(pcap, interface, watch, bpf, settle, state_file=state_file)
        )
    except (OSError, ValueError) as exc:
        for sink in sinks:
            sink.close()
        raise _fail(f"--interface {interface}: {getattr(exc, 'strerror', None) or exc}") from exc
    server: MetricsServer | None = None
    if metrics_addr is not None:
        from prometheus_client import CollectorRegistry  # noqa: PLC0415

        from collectors.auditor.metrics import AuditorCollector  # noqa: PLC0415
        from collectors.httpserve import MetricsServer  # noqa: PLC0415
        from collectors.webconfig import WebConfig  # noqa: PLC0415

        registry = CollectorRegistry()
        registry.register(
            AuditorCollector(
                engine.stats,
                site=site or "",
                sensor=engine.sensor,
                detectors=tuple(engine.detector_names),
                version=__version__,
                inputs=source.stats,
                forward=forward,
            )
        )
        try:
            server = MetricsServer(
                registry,
                *metrics_addr,
                web_config=web or WebConfig(),
                title="netwarden auditor",
            )
        except OSError as exc:
            for sink in sinks:
                sink.close()
            raise _fail(f"--metrics-listen {metrics_listen}: {exc.strerror or exc}") from exc
        server.start()
    timer = threading.Timer(duration, source.stop) if duration is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        with GracefulStop(source.stop):
            summary = _run(
                engine,
                source,
                progress=bool(pcap) and not as_json,
                status_every=status_every,
                fan=fan,
            )
    except KeyboardInterrupt:  # a second signal: the batch in hand is abandoned
        source.stop()
        summary = engine.finish()
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    finally:
        if timer is not None:
            timer.cancel()
        for sink in sinks:
            sink.close()
        if server is not None:
            server.close()
    summary = summary.model_copy(update={"input_errors": dict(source.stats.file_errors)})

    if as_json:
        # pydantic-core writes the JSON (UTF-8, indent 2: the same text as json.dumps of
        # model_dump with ensure_ascii=False, ~5x faster: 20 ms instead of 95 ms for the
        # 1M-packet benchmark's 3,248 incidents).
        text = summary.model_dump_json(indent=2)
        if is_terminal():  # coloured for a person
            from netwarden.cli.readable import console  # noqa: PLC0415

            console.print_json(text)
        else:
            # The same text as print_json writes, without Rich rendering it: on the 1M-packet
            # benchmark (3,248 incidents) that rendering took ~80 % of the process and 150 MB.
            typer.echo(text)
    else:
        from netwarden.cli.readable import console  # noqa: PLC0415

        place = engine.ctx.policy.place if engine.ctx.policy is not None else None
        console.print(summary_table(summary, top, place))
        console.print(end_line(summary), highlight=False)
    exit_process(exit_for(summary.has_findings(Severity.MEDIUM)))


def register(app: typer.Typer) -> None:
    """Add ``netwarden auditor`` to ``app``."""
    app.add_typer(auditor_app, name="auditor")
