"""Publishing batch files for vendors that pull a file by URL (Ongage, Yesmail).

Three backends behind one small interface (``base.Stager``): ``http`` (a short-lived server
that apply runs for exactly this run's files), ``directory`` (files written where the user's
web server publishes them) and ``s3`` (upload, then a pre-signed GET URL).
"""

from reconciler.staging.base import Stager, open_stager

__all__ = ["Stager", "open_stager"]
