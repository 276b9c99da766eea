"""gevent_lite.time: sleep parks only the greenlet, with the stdlib's argument checks."""

import time as stdtime

import pytest

import gevent_lite
from gevent_lite import time as gtime


def test_twenty_sleeps_of_half_a_second_overlap():
    start = stdtime.monotonic()
    jobs = [gevent_lite.spawn(gtime.sleep, 0.5) for _ in range(20)]
    gevent_lite.joinall(jobs, raise_error=True)
    elapsed = stdtime.monotonic() - start
    assert 0.45 <= elapsed < 2.0


def test_sleep_zero_yields_to_other_greenlets():
    ran = []
    gevent_lite.spawn(ran.append, 1)
    gtime.sleep(0)
    assert ran == [1]


@pytest.mark.parametrize('bad', [-1, -0.001, float('nan'), 'x', None, float('inf')])
def test_bad_lengths_raise_like_the_stdlib(bad):
    with pytest.raises(Exception) as ours:
        gtime.sleep(bad)
    with pytest.raises(Exception) as std:
        stdtime.sleep(bad)
    assert type(ours.value) is type(std.value)
    assert str(ours.value) == str(std.value)


def test_every_other_name_is_the_stdlibs():
    assert gtime.sleep is not stdtime.sleep
    for name in dir(stdtime):
        if not name.startswith('_') and name != 'sleep':
            assert getattr(gtime, name) is getattr(stdtime, name), name
    assert gtime.monotonic is stdtime.monotonic
    assert 'sleep' in gtime.__all__ or not hasattr(stdtime, '__all__')
