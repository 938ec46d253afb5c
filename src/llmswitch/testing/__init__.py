"""Mock providers that speak each vendor's real protocol, with fault injection.

``MockServer`` runs them on a loopback port for end-to-end tests; ``MockTransport`` serves them
in-process (the ``mock`` provider type). ``Fault`` / ``Script`` describe scripted failures.
"""

from __future__ import annotations

from .app import MockApp, Mount
from .scenario import Fault, MockCall, Reply, Script, reply_for
from .server import MockServer
from .transport import MockTransport

__all__ = ["Fault", "MockApp", "MockCall", "MockServer", "MockTransport", "Mount", "Reply", "Script", "reply_for"]
