"""mvgen: turn an electronic dance music track into a synced music video."""

__version__ = "0.1.0"
