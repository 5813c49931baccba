"""The dashboard: the HTTP page, JSON API, event stream and Prometheus metrics.

It runs on every manager replica, followers included, and reads the replica
it belongs to only through ``titan_ha.api.Client``: local reads of that
replica's state, plus the cluster status from the leader when one answers.
"""

from __future__ import annotations

from titan_ha.dashboard.app import create_app
from titan_ha.dashboard.server import DashboardServer, serve_in_thread
from titan_ha.dashboard.source import ReadClient

__all__ = ["DashboardServer", "ReadClient", "create_app", "serve_in_thread"]
