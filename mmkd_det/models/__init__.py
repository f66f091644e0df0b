from . import connectors, distillers, losses  # noqa: F401
