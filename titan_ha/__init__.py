"""Titan HA: a fault-tolerant task orchestrator on a Raft-replicated control plane.

Roles live in their own packages: ``manager`` (a control-plane replica),
``worker`` (runs attempts), ``cli`` and ``api`` (the client side). Modules at
this level are shared by every role.
"""

__version__ = "0.1.0"
