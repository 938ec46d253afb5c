"""``llmswitch mock serve``: the loopback mock server, for demos and for users' own tests."""

from __future__ import annotations

import re
import signal
import sys
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, get_args

from ._common import EXIT_FAILURE, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..testing import MockServer
    from ..testing.scenario import Fault

__all__ = ["parse_faults", "parse_mounts", "serve"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def available_protocols() -> list[str]:
    """Mock protocols whose module is present (some vendors' mocks may not exist yet)."""
    from ..testing.protocols import mock_protocol, mock_protocols

    found = []
    for name in mock_protocols():
        try:
            mock_protocol(name)
        except ImportError:
            continue
        found.append(name)
    return found


def parse_mounts(specs: Sequence[str]) -> dict[str, str]:
    """``NAME=PROTOCOL`` (or just ``PROTOCOL``, mounted under its own name)."""
    from ..testing.protocols import mock_protocols

    known = available_protocols()
    mounts: dict[str, str] = {}
    for spec in specs:
        name, sep, protocol = spec.partition("=")
        if not sep:
            name, protocol = spec, spec
        name, protocol = name.strip(), protocol.strip()
        if not _NAME.match(name):
            raise CliError(f"--mount {spec!r}: the mount name must be letters, digits, '_', '-' or '.'",
                           code=EXIT_USAGE)
        if protocol not in known:
            why = "has no mock yet" if protocol in mock_protocols() else "is not a protocol"
            raise CliError(f"--mount {spec!r}: {protocol!r} {why}; available: {', '.join(known)}", code=EXIT_USAGE)
        mounts[name] = protocol
    return mounts


def parse_faults(specs: Sequence[str], mounts: Sequence[str]) -> dict[str, list[Fault]]:
    """``[NAME=]SPEC[,SPEC]``: faults for one mount, or (without a mount name) for every mount."""
    from ..testing.scenario import Fault, FaultKind

    kinds = set(get_args(FaultKind))
    out: dict[str, list[Fault]] = {name: [] for name in mounts}
    for spec in specs:
        head, sep, rest = spec.partition("=")
        targets, body = ([head], rest) if sep and head in mounts else (list(mounts), spec)
        if sep and ":" not in head and head not in mounts:
            raise CliError(f"--faults {spec!r}: no mount named {head!r}; mounts: {', '.join(mounts)}",
                           code=EXIT_USAGE)
        for item in filter(None, (s.strip() for s in body.split(","))):
            try:
                fault = Fault.parse(item)
            except ValueError as exc:
                raise CliError(f"--faults {item!r}: {exc}", code=EXIT_USAGE) from None
            if fault.kind not in kinds:
                raise CliError(f"--faults {item!r}: unknown fault; use a status code (e.g. 429:retry-after=1) "
                               f"or one of {', '.join(sorted(kinds - {'status'}))}", code=EXIT_USAGE)
            for name in targets:
                out[name].append(Fault.parse(item))
    return out


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(*, port: int, mounts: Sequence[str], faults: Sequence[str], api_key: str | None, quiet: bool) -> int:
    from ..testing import MockServer

    mapping = parse_mounts(mounts) if mounts else {name: name for name in available_protocols()}
    scripted = parse_faults(faults, list(mapping))
    try:
        server = MockServer(mapping, port=port)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}", code=EXIT_FAILURE) from None
    for name, items in scripted.items():
        mount = server.mount(name)
        mount.fail(*items)
        mount.api_key = api_key
    signal.signal(signal.SIGTERM, _terminate)
    server.start()
    try:
        _banner(server, mapping, scripted, api_key)
        seen = dict.fromkeys(mapping, 0)
        while True:
            time.sleep(0.1)
            if not quiet:
                for name in mapping:
                    requests = server.mount(name).requests
                    for request in requests[seen[name]:]:
                        print(f"{time.strftime('%H:%M:%S')} {name} {request.method} {request.path}", flush=True)
                    seen[name] = len(requests)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("mock server stopped", file=sys.stderr, flush=True)
    return 0


def _banner(server: MockServer, mapping: dict[str, str], scripted: dict[str, list[Fault]],
            api_key: str | None) -> None:
    from ..catalog import get_preset

    width = max(len(n) for n in mapping) if mapping else 4
    lines = [f"llmswitch mock server on {server.url} (127.0.0.1 only) · Ctrl-C to stop", ""]
    for name, protocol in mapping.items():
        extra = f"  faults: {len(scripted[name])}" if scripted[name] else ""
        lines.append(f"  {name:<{width}}  {protocol:<10}  {server.base_url(name)}{extra}")
    lines += ["", "providers.yaml for these mounts:", "providers:"]
    value = "<the --api-key value>" if api_key else "test"
    for name, protocol in mapping.items():
        kind = "openai" if protocol == "mock" else protocol
        preset = get_preset(kind)
        creds = preset.required_credentials if preset is not None else ("api_key",)
        fields = "".join(f", {cred}: {value}" for cred in creds)
        lines.append(f"  {name}: {{type: {kind}{fields}, base_url: {server.base_url(name)}}}")
    print("\n".join(lines), flush=True)
