import os
import subprocess
import sys
import time

import pytest

import _helpers as helpers

import gevent_lite
from gevent_lite.event import Event
from gevent_lite.fileobject import (FileObject, FileObjectBlock, FileObjectPosix,
                                    FileObjectThread)

_real_sleep = time.sleep


def test_posix_default_mode_is_text_as_open(tmp_path):
    r, w = os.pipe()
    os.write(w, b'line1\n')
    os.close(w)
    f = FileObjectPosix(r)
    try:
        assert f.readline() == 'line1\n'
        assert not hasattr(f, 'read1')   # text files have no read1
    finally:
        f.close()


def test_posix_opens_a_path_seeks_and_names_it(tmp_path):
    path = str(tmp_path / 'data')
    with FileObjectPosix(path, 'wb') as f:
        assert f.name == path
        f.write(b'B' * 15 + b'a' * 10)
    with FileObjectPosix(path, 'rb') as f:
        assert f.seekable()
        f.seek(15)
        assert f.tell() == 15
        assert f.read() == b'a' * 10
    with FileObjectPosix(path, 'r+', encoding='utf-8') as f:
        assert f.read(3) == 'BBB'
        f.seek(0)
        f.write('xy')
    with open(path, 'rb') as f:
        assert f.read(4) == b'xyBB'
    assert f.closed


def test_posix_name_is_the_fd_or_the_owner_name(tmp_path):
    r, w = os.pipe()
    os.close(w)
    f = FileObjectPosix(r, 'rb')
    assert f.name == r
    f.close()
    assert f.name == r                     # still there after close, as with io.FileIO

    class Nameless:
        def __init__(self, fd):
            self.fd = fd

        def fileno(self):
            return self.fd

    r, w = os.pipe()
    os.close(w)
    f = FileObjectPosix(Nameless(r), 'rb', close=False)
    assert not hasattr(f, 'name')          # as open() of a nameless object
    f.close()
    os.close(r)


def test_posix_seek_on_a_pipe_raises_the_os_error():
    r, w = os.pipe()
    f = FileObjectPosix(r, 'rb', close=False)
    try:
        assert not f.seekable()
        with pytest.raises(OSError) as info:
            f.fileio.seek(0)
        with pytest.raises(OSError) as native:
            os.lseek(r, 0, os.SEEK_SET)
        assert info.value.args == native.value.args
    finally:
        f.close()
        os.close(r)
        os.close(w)


def test_default_fileobject_is_posix_like_gevent():
    assert FileObject is FileObjectPosix


def test_pipe_read_parks_while_a_ticker_keeps_ticking():
    r, w = os.pipe()
    reader = FileObjectPosix(r, 'rb')
    ticks = []
    ticker = helpers.ticker(ticks)

    def write_later():
        gevent_lite.sleep(0.3)
        os.write(w, b'hello\nworld\n')
        gevent_lite.sleep(0.2)
        os.close(w)

    gevent_lite.spawn(write_later)
    t0 = time.monotonic()
    assert reader.readline() == b'hello\n'
    assert time.monotonic() - t0 >= 0.25
    assert list(reader) == [b'world\n']           # iteration until EOF
    assert reader.read() == b''
    ticker.kill()
    reader.close()
    assert len(ticks) >= 20
    assert helpers.max_gap(ticks) < 0.2


def test_large_write_through_a_pipe_to_a_reader_greenlet():
    r, w = os.pipe()
    payload = os.urandom(1024 * 1024)
    writer = FileObjectPosix(w, 'wb')
    reader = FileObjectPosix(r, 'rb')

    def read_all():
        chunks = []
        while True:
            chunk = reader.read(65536)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)

    g = gevent_lite.spawn(read_all)
    t0 = time.monotonic()
    # Far more than the 64 KB pipe buffer: the writer must park on WRITE so the
    # reader greenlet can drain the pipe (a blocking write would deadlock here).
    writer.write(payload)
    writer.close()
    assert g.get(timeout=10) == payload
    assert time.monotonic() - t0 < 5
    reader.close()


def test_text_mode_pipe_and_readinto():
    r, w = os.pipe()
    writer = FileObjectPosix(w, 'w', encoding='utf-8')
    reader = FileObjectPosix(r, 'r', encoding='utf-8')
    writer.write('grüße\nzwei\n')
    writer.flush()
    assert reader.readline() == 'grüße\n'
    writer.close()
    assert reader.read() == 'zwei\n'
    reader.close()

    r, w = os.pipe()
    reader = FileObjectPosix(r, 'rb', bufsize=0)
    os.write(w, b'abc')
    buf = bytearray(10)
    assert reader.readinto(buf) == 3 and bytes(buf[:3]) == b'abc'
    os.close(w)
    reader.close()


def test_close_restores_blocking_mode_and_close_false_keeps_fd_open():
    r, w = os.pipe()
    assert os.get_blocking(r)
    f = FileObjectPosix(r, 'rb', close=False)
    assert not os.get_blocking(r)
    f.close()
    assert f.closed
    assert os.get_blocking(r)
    os.write(w, b'x')
    assert os.read(r, 1) == b'x'      # still open
    os.close(r)
    os.close(w)


def test_closing_wakes_a_greenlet_parked_on_read_with_ebadf():
    r, w = os.pipe()
    f = FileObjectPosix(r, 'rb', bufsize=0)
    g = gevent_lite.spawn(f.read, 10)
    gevent_lite.sleep(0.05)
    f.fileio.close()
    g.join(timeout=5)
    assert g.ready()
    assert isinstance(g.exception, OSError)
    os.close(w)


def test_bad_arguments_are_rejected_clearly():
    r, w = os.pipe()
    try:
        with pytest.raises(ValueError, match='reading and writing'):
            FileObjectPosix(r, 'r+b')     # a pipe cannot seek
        with pytest.raises(ValueError, match='invalid mode'):
            FileObjectPosix(r, 'q')
        with pytest.raises(TypeError, match='int fd'):
            FileObjectPosix(3.5, 'rb')
        with pytest.raises(FileNotFoundError):
            FileObjectPosix(os.path.join(os.path.dirname(__file__), 'no such file'), 'rb')
        with pytest.raises(ValueError, match='unbuffered text'):
            FileObjectPosix(r, 'r', bufsize=0)
        assert os.get_blocking(r)
    finally:
        os.close(r)
        os.close(w)


def test_file_object_thread_reads_a_file_while_a_ticker_runs(tmp_path):
    path = tmp_path / 'data.txt'
    path.write_text(''.join('line %d\n' % i for i in range(5000)))
    ticks = []
    ticker = helpers.ticker(ticks)
    with FileObjectThread(str(path), 'r') as f:
        first = f.readline()
        rest = list(f)
        f.seek(0)
        assert f.read(6) == 'line 0'
        assert f.tell() == 6
    assert f.closed
    assert first == 'line 0\n'
    assert len(rest) == 4999 and rest[-1] == 'line 4999\n'
    ticker.kill()
    assert len(ticks) >= 2
    assert helpers.max_gap(ticks) < 0.2


def test_file_object_thread_runs_io_in_a_pool_thread_not_the_hub(tmp_path):
    import threading
    path = tmp_path / 'out.bin'
    seen = []

    class Probe:
        def write(self, data):
            seen.append(threading.get_ident())
            _real_sleep(0.3)       # a slow disk: must not block other greenlets
            return len(data)

        def flush(self):
            pass

        def close(self):
            pass
        closed = False

    f = FileObjectThread(Probe(), 'wb')
    done = Event()
    ticks = []
    ticker = helpers.ticker(ticks)
    g = gevent_lite.spawn(lambda: (f.write(b'x'), done.set()))
    assert done.wait(timeout=5)
    g.join()
    ticker.kill()
    assert seen and seen[0] != threading.get_ident()
    assert len(ticks) >= 10 and helpers.max_gap(ticks) < 0.2

    with FileObjectThread(str(path), 'wb') as out:
        out.write(b'abc')
        out.writelines([b'd', b'e'])
        out.flush()
    with FileObjectThread(str(path), 'rb') as inp:
        assert inp.read() == b'abcde'


def test_file_object_thread_serializes_greenlets_sharing_a_file(tmp_path):
    path = tmp_path / 'shared.txt'
    f = FileObjectThread(str(path), 'w')

    def writer(tag):
        for i in range(50):
            f.write('%s%d\n' % (tag, i))
    gevent_lite.joinall([gevent_lite.spawn(writer, t) for t in 'abc'], timeout=20)
    f.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 150
    for tag in 'abc':
        assert [ln for ln in lines if ln[0] == tag] == ['%s%d' % (tag, i) for i in range(50)]


def test_file_object_thread_errors_and_closed_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        FileObjectThread(str(tmp_path / 'missing'), 'r')
    f = FileObjectThread(str(tmp_path / 'x'), 'w')
    f.close()
    f.close()           # idempotent
    with pytest.raises(ValueError):
        f.write('late')
    with pytest.raises(TypeError):
        FileObjectThread(3.5)


def test_file_object_block_is_a_plain_file(tmp_path):
    path = tmp_path / 'b.txt'
    with FileObjectBlock(str(path), 'w') as f:
        f.write('one\ntwo\n')
    with FileObjectBlock(str(path), 'r') as f:
        assert list(f) == ['one\n', 'two\n']


def test_subprocess_stdout_pipe_read_cooperatively():
    proc = subprocess.Popen([sys.executable, '-c',
                             'import time,sys\nfor i in range(3):\n'
                             '    print(i, flush=True); time.sleep(0.1)'],
                            stdout=subprocess.PIPE)
    ticks = []
    ticker = helpers.ticker(ticks)
    try:
        f = FileObjectPosix(proc.stdout, 'r')
        assert [line.strip() for line in f] == ['0', '1', '2']
        f.close()
        # Closing the wrapper closes the owner too, through the owner: its own
        # finalizer must not later hit EBADF on an fd closed behind its back.
        assert proc.stdout.closed
    finally:
        proc.wait(10)
        ticker.kill()
    assert helpers.max_gap(ticks) < 0.2
