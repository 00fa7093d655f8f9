"""The switch under test: `ccpolicy serve`, Kamailio with examples/kamailio/ and SIPp.

Everything listens on 127.0.0.1. The service picks its own port (``--port 0``, read from
its output); Kamailio and the SIPp callee cannot report one, so their ports are probed
(bind port 0, close, hand the number over) and a start that loses the port to another
process is retried on a new one. Every process is started through :class:`Processes`,
which stops them all (terminate, then kill) in a ``finally``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_DIR = ROOT / "examples" / "kamailio"
CALLER_XML = KAMAILIO_DIR / "sipp" / "caller.xml"
CALLEE_XML = KAMAILIO_DIR / "sipp" / "callee.xml"
# the modules the config loads beyond the core package: http_client
# (kamailio-utils-modules) and jansson (kamailio-extra-modules)
NEEDED_MODULES = ("dialog.so", "htable.so", "http_client.so", "jansson.so")
START_TIMEOUT = 20.0  # seconds a process may take to come up
HOLD_PLACEHOLDER = 'timeout="4000" ontimeout="hangup"'  # the caller's hold, in caller.xml


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def missing_switch() -> str | None:
    """Why the switch cannot run here (None: Kamailio, its modules and SIPp are present)."""
    missing = [tool for tool in ("kamailio", "sipp") if shutil.which(tool) is None]
    if "kamailio" not in missing:
        for module in NEEDED_MODULES:
            if not glob.glob(f"/usr/lib/*/kamailio/modules/{module}") and not glob.glob(
                f"/usr/lib*/kamailio/modules/{module}"
            ):
                missing.append(f"Kamailio module {module}")
    if not missing:
        return None
    return (
        "needs " + ", ".join(missing) + " (Debian: apt-get install kamailio "
        "kamailio-utils-modules kamailio-extra-modules sip-tester)"
    )


def require_switch() -> None:
    """Skip (locally) or fail (CI=true) when Kamailio or SIPp is missing."""
    problem = missing_switch()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"CI=true and the switch tests cannot run: {problem}", pytrace=False)
    pytest.skip(problem)


def probe_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


@dataclass
class Started:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Processes:
    """Processes of one test stack, all stopped by :meth:`stop_all`."""

    workdir: Path
    started: list[Started] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], **kwargs: Any) -> Started:
        log = self.workdir / f"{name}.out"
        handle: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed with the process
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                start_new_session=True,
                **kwargs,
            )
        finally:
            handle.close()
        started = Started(name, proc, log)
        self.started.append(started)
        return started

    def stop(self, started: Started) -> None:
        proc = started.proc
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        if started in self.started:
            self.started.remove(started)

    def stop_all(self) -> None:
        for started in reversed(list(self.started)):
            self.stop(started)


@contextlib.contextmanager
def processes(workdir: Path) -> Iterator[Processes]:
    procs = Processes(workdir)
    try:
        yield procs
    finally:
        procs.stop_all()


# ---- the service --------------------------------------------------------------------

PORT_LINE = re.compile(r"(?:127\.0\.0\.1|localhost|port)[: =]+(\d{2,5})\b")


def start_service(procs: Processes, argv: Sequence[str], env: dict[str, str]) -> str:
    """Start `ccpolicy serve … --port 0`; returns its base URL once /readyz answers 200."""
    service = procs.start("service", argv, env=env)
    deadline = time.monotonic() + START_TIMEOUT
    port = None
    while time.monotonic() < deadline and port is None:
        if service.proc.poll() is not None:
            raise AssertionError(f"ccpolicy serve exited:\n{service.output()}")
        match = PORT_LINE.search(service.output())
        if match:
            port = int(match.group(1))
        else:
            time.sleep(0.05)
    if port is None:
        raise AssertionError(f"ccpolicy serve printed no port:\n{service.output()}")
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(f"{url}/readyz", timeout=2) as reply,
        ):
            if reply.status == 200:
                return url
        if service.proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"ccpolicy serve never became ready:\n{service.output()}")


# ---- Kamailio ------------------------------------------------------------------------


def sip_options_answered(port: int, timeout: float = 0.5) -> bool:
    """True when something answers a SIP OPTIONS on 127.0.0.1:port (any status)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        request = (
            f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-probe-{time.monotonic_ns()}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=probe\r\n"
            f"To: <sip:ping@127.0.0.1>\r\n"
            f"Call-ID: probe-{time.monotonic_ns()}@127.0.0.1\r\n"
            f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), ("127.0.0.1", port))
        try:
            data = sock.recv(65535)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


def start_kamailio(
    procs: Processes,
    *,
    service_url: str,
    tenant: str,
    gateway_port: int,
    extra_defines: Sequence[str] = (),
    attempts: int = 5,
) -> int:
    """Start Kamailio on a probed UDP port; returns the port once it answers SIP."""
    last = ""
    for attempt in range(attempts):
        port = probe_udp_port()
        rundir = procs.workdir / f"kamailio-run-{port}"
        rundir.mkdir(exist_ok=True)
        argv = [
            "kamailio",
            "-f",
            str(KAMAILIO_DIR / "kamailio.cfg"),
            "-DD",
            "-E",
            "-m",
            "64",
            "-M",
            "8",
            "-Y",
            str(rundir),
            "-P",
            str(rundir / "kamailio.pid"),
            "-A",
            f"SIP_LISTEN=udp:127.0.0.1:{port}",
            "-A",
            f'CCPOLICY_URL="{service_url}"',
            "-A",
            f'CCPOLICY_TENANT="{tenant}"',
            "-A",
            f'GATEWAY="sip:127.0.0.1:{gateway_port}"',
        ]
        for define in extra_defines:
            argv += ["-A", define]
        kam = procs.start(f"kamailio-{tenant}-{attempt}", argv)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if kam.proc.poll() is not None:
                break
            if sip_options_answered(port):
                return port
        last = kam.output()
        procs.stop(kam)
    raise AssertionError(f"Kamailio did not start in {attempts} attempts:\n{last[-4000:]}")


# ---- SIPp ---------------------------------------------------------------------------


@dataclass
class CallLog:
    """What SIPp logged of one call: event name -> epoch seconds (and refusal codes)."""

    call_id: str
    events: dict[str, float] = field(default_factory=dict)
    refused: int | None = None

    @property
    def answered(self) -> bool:
        return "answered" in self.events


LOG_LINE = re.compile(
    r"^(?P<call>\S+) (?P<event>invite|trying|ringing|answered|refused|cut|hungup|bye)"
    r"(?: (?P<code>\d{3}))? (?P<s>[0-9.]+) (?P<us>[0-9.]+)\s*$"
)


def read_call_logs(path: Path) -> dict[str, CallLog]:
    calls: dict[str, CallLog] = {}
    if not path.exists():
        return calls
    for line in path.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line.strip())
        if not match:
            continue
        log = calls.setdefault(match["call"], CallLog(match["call"]))
        log.events[match["event"]] = float(match["s"]) + float(match["us"]) / 1e6
        if match["code"]:
            log.refused = int(match["code"])
    return calls


def start_callee(procs: Processes, attempts: int = 5) -> tuple[int, Path]:
    """The SIPp UAS standing for the PSTN gateway; returns its port and its log file."""
    last = ""
    for attempt in range(attempts):
        port = probe_udp_port()
        log = procs.workdir / f"callee-{port}.log"
        callee = procs.start(
            f"callee-{attempt}",
            [
                "sipp",
                "-sf",
                str(CALLEE_XML),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-nostdin",
                "-trace_logs",
                "-log_file",
                str(log),
                "-max_recv_loops",
                "1000",
            ],
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if callee.proc.poll() is not None:
                break
            if udp_port_taken(port):
                time.sleep(0.2)
                if callee.proc.poll() is None:
                    return port, log
                break
            time.sleep(0.05)
        last = callee.output()
        procs.stop(callee)
    raise AssertionError(f"the SIPp callee did not start in {attempts} attempts:\n{last}")


@dataclass
class CallerRun:
    returncode: int
    calls: dict[str, CallLog]
    messages: str
    output: str

    def reason_headers(self) -> list[str]:
        return re.findall(r"^Reason: .*$", self.messages, flags=re.MULTILINE)


def run_caller(
    workdir: Path,
    *,
    proxy_port: int,
    number: str,
    user: str,
    domain: str,
    hold_ms: int,
    calls: int = 1,
    timeout: float = 120.0,
    name: str = "caller",
    rate: float | None = None,
    extra: Sequence[str] = (),
) -> CallerRun:
    """Place ``calls`` calls through the proxy, all at once (or ``rate`` a second), and
    wait for all of them."""
    scenario = workdir / f"{name}.xml"
    text = CALLER_XML.read_text()
    assert HOLD_PLACEHOLDER in text, "caller.xml lost its hold timeout"
    scenario.write_text(text.replace(HOLD_PLACEHOLDER, f'timeout="{hold_ms}" ontimeout="hangup"'))
    log = workdir / f"{name}.log"
    messages = workdir / f"{name}.messages"
    argv = [
        "sipp",
        f"127.0.0.1:{proxy_port}",
        "-sf",
        str(scenario),
        "-s",
        number,
        "-key",
        "user",
        user,
        "-key",
        "domain",
        domain,
        "-i",
        "127.0.0.1",
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(rate or calls),
        "-nostdin",
        "-trace_logs",
        "-log_file",
        str(log),
        "-trace_msg",
        "-message_file",
        str(messages),
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        *extra,
    ]
    with processes(workdir) as procs:
        caller = procs.start(name, argv)
        try:
            returncode = caller.proc.wait(timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            returncode = -1
    return CallerRun(
        returncode,
        read_call_logs(log),
        messages.read_text(errors="replace") if messages.exists() else "",
        (workdir / f"{name}.out").read_text(errors="replace"),
    )


# one cent a second, every second billed: a balance of B covers 100 * B seconds exactly
RATES_CSV = """\
prefix,destination,number_type,origin,connect_fee,rate,rate_unit,increment,from_second
44,United Kingdom (e2e),,,0,0.01,1,1,0
1,North America (e2e),,,0,0.01,1,1,0
"""
RATES_YAML = "currency: USD\nrounding: {method: half_up, decimals: 2}\n"


def tenant_yaml(name: str, balance: str) -> str:
    return f"""\
tenant: {name}
country: US
billing_country: US
currency: USD
credits: {{balance: "{balance}", funding: one_time}}
admins:
  - {{email: ann@{name}.example, roles: [billing_admin]}}
users:
  - upn: alice@{name}.example
    usage_location: US
    licenses: [teams_phone, domestic_calling_plan, communications_credits]
  - upn: dana@{name}.example
    usage_location: US
    licenses: [teams_phone, domestic_calling_plan]
"""


def write_rules(folder: Path) -> Path:
    """The bundled rules with the rate card above beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    for ccp in (ROOT / "rules").glob("*.ccp"):
        shutil.copy(ccp, folder / ccp.name)
    (folder / "rates.csv").write_text(RATES_CSV)
    (folder / "rates.yaml").write_text(RATES_YAML)
    return folder


def service_argv(rules: Path, tenants: Sequence[Path], ledger_url: str, *, quota: int) -> list[str]:
    """`ccpolicy serve` on a port of its choosing, for these tenants and this ledger."""
    return [
        sys.executable,
        "-m",
        "policy",
        "serve",
        "--rules",
        str(rules),
        "--tenants",
        *(str(p) for p in tenants),
        "--ledger",
        ledger_url,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--quota",
        str(quota),
    ]
