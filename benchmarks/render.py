#!/usr/bin/env python
"""Turn ``run.py --json FILE`` output into a Markdown or reST table for the docs.

    python benchmarks/render.py results.json               # Markdown
    python benchmarks/render.py results.json --format rst  # reST list-table

One row per case, one column per implementation; each cell is the median and,
for implementations other than gevent, the ratio to gevent. Cases that failed
their self-check show ERROR, never a number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)      # run.py beside us, also when this file is loaded by path
from run import IMPL_TITLES, format_value, impl_key  # noqa: E402

__all__ = ['main', 'render']


def _cell(impl, row):
    if row is None:
        return '–'
    if row.get('errors'):
        return 'ERROR'
    text = format_value(row['median'])
    if impl != 'gevent' and row.get('ratio') is not None:
        text += ' (%.2f×)' % row['ratio']
    return text


def _table(data):
    impls = []
    for case in data['cases']:
        for impl in case['results']:
            if impl not in impls:
                impls.append(impl)
    impls.sort(key=impl_key)
    header = ['case', 'unit'] + [IMPL_TITLES.get(i, i) for i in impls] + ['target']
    rows = []
    for case in data['cases']:
        better = '↑' if case['higher_is_better'] else '↓'
        rows.append([case['description'], '%s %s' % (case['unit'], better)]
                    + [_cell(i, case['results'].get(i)) for i in impls] + [case.get('target') or ''])
    return header, rows


def _footer(data):
    m = data.get('meta', {})
    v = m.get('versions', {})
    libs = ', '.join('%s %s' % (k, v[k]) for k in ('greenlet', 'gevent', 'eventlet', 'uvloop', 'uvicorn',
                                                  'httptools', 'waitress') if v.get(k))
    return ('Python %s, %s CPUs, %s round(s)%s, %s, commit %s, %s. '
            'Cells: median (ratio to gevent); ↑ higher is better, ↓ lower is better.' % (
                m.get('python'), m.get('cpus'), m.get('rounds'), ' (--quick)' if m.get('quick') else '',
                libs, m.get('commit'), m.get('date')))


def render(data, fmt='md'):
    """Return the table for ``data`` (the dict run.py writes) as Markdown or reST."""
    header, rows = _table(data)
    if fmt == 'md':
        def line(cells):
            return '| ' + ' | '.join(c.replace('|', '\\|') for c in cells) + ' |'
        out = [line(header), '|' + '---|' * len(header)] + [line(r) for r in rows]
        return '\n'.join(out) + '\n\n' + _footer(data) + '\n'
    if fmt == 'rst':
        out = ['.. list-table::', '   :header-rows: 1', '']
        for cells in [header] + rows:
            for i, c in enumerate(cells):
                out.append(('   * - ' if i == 0 else '     - ') + (c or '\\ '))
        return '\n'.join(out) + '\n\n' + _footer(data) + '\n'
    raise ValueError('unknown format %r (use md or rst)' % (fmt,))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('json_file')
    p.add_argument('--format', choices=('md', 'rst'), default='md')
    p.add_argument('-o', '--output', help='write here instead of stdout')
    args = p.parse_args(argv)
    with open(args.json_file) as f:
        data = json.load(f)
    text = render(data, args.format)
    if args.output:
        with open(args.output, 'w') as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
