"""The checkout's root, for the test modules that read its files or run commands in it, at any depth under tests/."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
