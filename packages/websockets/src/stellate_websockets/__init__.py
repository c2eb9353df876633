"""The WebSocket connection class of Stellate, with its states and close/disconnect types."""

__version__ = "0.1.0"

__all__ = ["__version__"]
