"""virtual-audit server: HTTP, signaling and the media hub."""

__version__ = "0.1.0"
