"""``llmswitch serve``: load the providers file (or the demo) and run the gateway."""

from __future__ import annotations

from ._common import EXIT_USAGE, CliError, load


def serve(*, host: str, port: int, workers: int, config: str | None, access_log: bool, log_level: str) -> int:
    try:
        from ..gateway import logs
        from ..gateway.run import serve as run
    except ImportError as exc:
        raise CliError(f"llmswitch serve needs the serve extra: pip install 'llmswitch[serve]' ({exc})",
                       code=EXIT_USAGE) from None
    if workers > 1 and port == 0:
        raise CliError("--workers above 1 needs a fixed --port (each worker binds it with SO_REUSEPORT)",
                       code=EXIT_USAGE)
    loaded = load(config)
    from ..router import Router

    logs.setup(Router(loaded.settings).redact, level=log_level, access=access_log)
    return run(loaded.settings, host=host, port=port, workers=workers, access_log=access_log)
