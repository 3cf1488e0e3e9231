"""MOF definitions of the classes hvsim serves, shipped as package data."""

from pathlib import Path

MOF_DIR = Path(__file__).resolve().parent
