"""The parent process: the command line, the plan, the orchestrator that spawns one
child per (framework, job) and collects their results, and the environment record.
Imports no framework: a test plans a comparison and finds none loaded."""

from compare.harness.cli import main
from compare.harness.plan import Plan

__all__ = ["Plan", "main"]
