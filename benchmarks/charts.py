#!/usr/bin/env python
"""Draw the charts of the performance page from ``run.py --json FILE`` output.

    python benchmarks/run.py --quick --json benchmarks/results/quick.json
    python benchmarks/charts.py benchmarks/results/quick.json          # -> docs/images/*.png

Two PNG files (matplotlib, from the ``bench`` extra):

* ``bench_cases.png``: one small bar chart per case (the echo cases without a
  target are only points of the line chart), one bar per implementation
  (the median; the whisker spans the rounds' min - max), gevent_lite in its own
  colour, every implementation in the same colour in every panel, the case's
  target in the panel's title;
* ``bench_echo_conns.png``: TCP echo requests/s against the number of
  connections (every ``echo_<C>x64`` case of the run), one line per implementation.

The images are checked into ``docs/images/`` so building the docs never runs a
benchmark; rerun this command on a new JSON file to refresh them. A case that
failed its self-check for an implementation is drawn without that bar (its
panel says which), never with a number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)       # run.py beside us, also when this file is loaded by path
from run import IMPL_TITLES, format_value, impl_key  # noqa: E402

__all__ = ['bar_cases', 'bar_charts', 'echo_line_chart', 'main']

DEFAULT_OUT = os.path.join(os.path.dirname(HERE), 'docs', 'images')

# One colour per implementation, the same in every panel; gevent_lite stands out.
COLORS = {
    'lite': '#d62728', 'lite_monitor': '#ff9896', 'greenlet': '#7f7f7f', 'gevent': '#1f77b4',
    'gevent_monitor': '#aec7e8', 'gevent_nodelay': '#6baed6', 'eventlet': '#9467bd', 'asyncio': '#2ca02c',
    'uvloop': '#17becf', 'uvicorn': '#bcbd22', 'waitress': '#8c564b', 'threads': '#e377c2',
}
_ECHO_CASE = re.compile(r'^echo_(\d+)x64$')


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')           # files only; no display needed
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    # No creation date or software version in the file: the same JSON gives the same
    # bytes, so regenerating the charts only changes git when the numbers change.
    fig.savefig(path, dpi=110, metadata={'Software': None})


def _subtitle(meta):
    return 'Python %s, %s CPUs, %s round(s)%s, commit %s, %s (medians; whiskers: min - max)' % (
        meta.get('python'), meta.get('cpus'), meta.get('rounds'), ' --quick' if meta.get('quick') else '',
        meta.get('commit'), (meta.get('date') or '')[:10])


def bar_cases(data):
    """The cases of ``data`` that get a bar panel: all with results, except the echo
    cases without a target, which are only the line chart's extra connection counts."""
    return [c for c in data['cases'] if c['results']
            and (c.get('target') or not _ECHO_CASE.match(c['name']))]


def bar_charts(data, path, columns=3):
    """One bar panel per case of ``data`` (the dict run.py writes); write a PNG to ``path``."""
    plt = _pyplot()
    cases = bar_cases(data)
    if not cases:
        raise ValueError('the JSON holds no case results')
    rows = (len(cases) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.3 * rows), squeeze=False)
    for ax, case in zip(axes.flat, cases):
        impls = sorted(case['results'], key=impl_key)
        good = [i for i in impls if not case['results'][i]['errors'] and 'median' in case['results'][i]]
        failed = [i for i in impls if i not in good]
        med = [case['results'][i]['median'] for i in good]
        lo = [m - case['results'][i]['min'] for i, m in zip(good, med)]
        hi = [case['results'][i]['max'] - m for i, m in zip(good, med)]
        xs = range(len(good))
        ax.bar(xs, med, color=[COLORS.get(i, '#cccccc') for i in good], yerr=[lo, hi], capsize=3,
               error_kw={'elinewidth': 0.8, 'ecolor': '#333333'})
        for x, m in zip(xs, med):
            ax.annotate(format_value(m, short=True), (x, m), xytext=(0, 2), textcoords='offset points', ha='center',
                        va='bottom', fontsize=7)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([IMPL_TITLES.get(i, i).replace('_', '_\n', 1) if len(i) > 9 else
                            IMPL_TITLES.get(i, i) for i in good], fontsize=7.5, rotation=0)
        better = 'higher is better' if case['higher_is_better'] else 'lower is better'
        title = '\n'.join(textwrap.wrap(case['description'], 48))
        extra = []
        if case.get('target'):
            extra.append('target: lite %s' % case['target'])
        if failed:
            extra.append('ERROR: %s' % ', '.join(failed))
        ax.set_title(title + ('\n' + '; '.join(extra) if extra else ''), fontsize=8.5)
        ax.set_ylabel('%s (%s)' % (case['unit'], better), fontsize=7.5)
        ax.tick_params(axis='y', labelsize=7)
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: format_value(v, short=True) if v else '0'))
        ax.margins(y=0.15)
        ax.spines[['top', 'right']].set_visible(False)
    for ax in list(axes.flat)[len(cases):]:
        ax.set_visible(False)
    fig.suptitle('gevent_lite side by side with its anchors\n' + _subtitle(data.get('meta', {})), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / fig.get_figheight()))   # room for the two-line suptitle
    _save(fig, path)
    plt.close(fig)


def echo_line_chart(data, path):
    """Echo requests/s against connections (the ``echo_<C>x64`` cases) as a PNG at ``path``."""
    plt = _pyplot()
    points = {}
    for case in data['cases']:
        m = _ECHO_CASE.match(case['name'])
        if not m:
            continue
        for impl, row in case['results'].items():
            if not row['errors'] and 'median' in row:
                points.setdefault(impl, []).append((int(m.group(1)), row['median'], row['min'], row['max']))
    if not points:
        raise ValueError('the JSON holds no echo_<C>x64 case: run the echo cases first')
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for impl in sorted(points, key=impl_key):
        pts = sorted(points[impl])
        xs = [p[0] for p in pts]
        ax.plot(xs, [p[1] for p in pts], marker='o', color=COLORS.get(impl, '#cccccc'),
                linewidth=2.6 if impl == 'lite' else 1.5, label=IMPL_TITLES.get(impl, impl))
        ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts], color=COLORS.get(impl, '#cccccc'),
                        alpha=0.12, linewidth=0)
    ax.set_xscale('log')
    xs = sorted({p[0] for pts in points.values() for p in pts})
    ax.set_xticks(xs)
    ax.set_xticklabels([str(x) for x in xs])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: format_value(v, short=True) if v else '0'))
    ax.set_xlabel('concurrent connections (64-byte ping-pong each)')
    ax.set_ylabel('requests/s (higher is better)')
    ax.set_title('TCP echo server: requests/s against connections\n' + _subtitle(data.get('meta', {})),
                 fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.spines[['top', 'right']].set_visible(False)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('json_file', help='what run.py --json wrote')
    p.add_argument('--out', default=DEFAULT_OUT, help='directory for the PNG files (default: docs/images)')
    args = p.parse_args(argv)
    with open(args.json_file) as f:
        data = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    written = []
    bars = os.path.join(args.out, 'bench_cases.png')
    bar_charts(data, bars)
    written.append(bars)
    if any(_ECHO_CASE.match(c['name']) for c in data['cases']):
        line = os.path.join(args.out, 'bench_echo_conns.png')
        echo_line_chart(data, line)
        written.append(line)
    for path in written:
        print('wrote', path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
