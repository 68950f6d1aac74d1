"""Market of One: a lakehouse and decision pipeline that treats every bank customer as a market of one."""

__version__ = "0.1.0"
