"""The code base stays clean under the project's ruff rules and mypy configuration (pyproject.toml)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_reports_nothing():
    pytest.importorskip('ruff', reason='ruff is in the test extra; not installed here')
    proc = subprocess.run([sys.executable, '-m', 'ruff', 'check', '--output-format', 'concise', '.'],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_reports_nothing():
    pytest.importorskip('mypy', reason='mypy is in the test extra (Python 3.10+); not installed here')
    proc = subprocess.run([sys.executable, '-m', 'mypy', '--cache-dir', os.devnull, 'gevent_lite'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
