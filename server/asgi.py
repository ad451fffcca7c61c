"""ASGI entry point for ``peerlog serve`` (and any ASGI server): settings from the environment."""

from server.app import create_app
from server.settings import Settings

app = create_app(Settings.from_env())
