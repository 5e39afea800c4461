"""boxwright: Docker-ready base images and Vagrant boxes, built from data and templates."""

from pathlib import Path

__all__ = ["PROJECT_ROOT", "__version__"]

__version__ = "0.1.0"

#: The checkout boxwright runs from: definitions, templates and outputs are found relative to it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
