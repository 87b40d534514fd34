"""parsl-visualize: the monitoring database's read-only web view (``parsl-visualize``)."""
from parsl_monitoring.visualize.app import create_app

__all__ = ["create_app"]
