"""The package version (one place; setup.cfg and every record of it read this)."""

__version__ = "0.1.0"
