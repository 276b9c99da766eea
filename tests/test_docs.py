"""The documentation builds offline with warnings as errors and every cross reference resolved.

This is ``sphinx-build -W -n -b html docs <tmp>`` (what ``tox -e docs`` runs), so a
docstring with broken reST, a reference to a name that does not exist, a
tutorial page that includes a missing example, or a public module without an
API page fails the suite.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, 'docs')


def test_docs_build_without_warnings_or_unresolved_references(tmp_path):
    pytest.importorskip('sphinx', reason='sphinx is not installed (pip install -e ".[docs]")')
    out = tmp_path / 'html'
    proc = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-n', '-q', '-b', 'html',
         '-d', str(tmp_path / 'doctrees'), DOCS, str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=100, check=False)
    assert proc.returncode == 0, 'sphinx failed:\n%s\n%s' % (proc.stdout, proc.stderr)
    assert 'WARNING' not in proc.stderr, proc.stderr
    index = (out / 'index.html').read_text(encoding='utf-8')
    assert 'Tutorial' in index
    # The API pages really contain the docstrings (autodoc imported the checkout).
    hub_page = (out / 'api' / 'hub.html').read_text(encoding='utf-8')
    assert 'gevent_lite.hub.ParkingLot' in hub_page


def test_every_public_module_has_an_api_page():
    package = os.path.join(ROOT, 'gevent_lite')
    public = {f[:-3] for f in os.listdir(package)
              if f.endswith('.py') and not f.startswith('_')}
    public -= {'demo'}          # the demo is a program (python -m gevent_lite.demo), not an API
    pages = {f[:-4] for f in os.listdir(os.path.join(DOCS, 'api')) if f.endswith('.rst')}
    missing = sorted(m for m in public if m not in pages)
    assert not missing, 'modules without docs/api/<module>.rst: %s' % missing


def test_every_top_level_name_is_described_on_the_package_page():
    sys.path.insert(0, ROOT)
    import gevent_lite
    page = open(os.path.join(DOCS, 'api', 'gevent_lite.rst'), encoding='utf-8').read()
    described = set(re.findall(r'^\.\. (?:py:\w+|autofunction|autoclass)::\s+(\w+)', page, re.M))
    missing = sorted(set(gevent_lite.__all__) - described)
    assert not missing, 'gevent_lite.__all__ names missing from docs/api/gevent_lite.rst: %s' % missing


def test_the_gevent_name_table_is_generated_from_gevent_lite_itself():
    # docs/gevent_names.rst is rendered from docs/_data/gevent_public_names.txt (gevent's
    # names, recorded) and a look-up of each in gevent_lite: a name added or removed here
    # changes the page, and the checked-in page must match.
    sys.path.insert(0, DOCS)
    try:
        import gen_gevent_names
    finally:
        sys.path.remove(DOCS)
    with open(os.path.join(DOCS, 'gevent_names.rst'), encoding='utf-8') as f:
        page = f.read()
    assert page == gen_gevent_names.render(), 'run python docs/gen_gevent_names.py'
    version, names = gen_gevent_names.recorded()
    assert len(names) > 150 and version.count('.') == 2
    # The look-up is real: a name gevent_lite has, and one it lacks.
    assert gen_gevent_names.status('gevent', 'spawn') == ('present', '')
    assert gen_gevent_names.status('gevent.monkey', 'patch_builtins')[0] == 'absent'
    assert gen_gevent_names.status('gevent.monkey', 'no_such_name') == ('absent', '')
