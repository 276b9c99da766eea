"""Cooperative files: a pipe read with FileObjectPosix, a regular file through FileObjectThread.

A reader greenlet waits on a pipe that a writer greenlet fills slowly; while
the reader is parked, a ticker greenlet keeps running. A regular file is then
written and read back with every operation in the hub's thread pool.
"""

import os
import tempfile

import gevent_lite
from gevent_lite.fileobject import FileObject, FileObjectPosix, FileObjectThread


def writer(fd):
    with FileObjectPosix(fd, 'w', bufsize=1) as out:     # text, line buffered
        for n in range(3):
            gevent_lite.sleep(0.1)
            out.write('line %d\n' % n)


def reader(fd):
    lines = []
    with FileObjectPosix(fd, 'r') as inp:
        for line in inp:          # each read parks this greenlet until the pipe has data
            lines.append(line.rstrip('\n'))
    return lines


def ticker(ticks):
    while True:
        ticks[0] += 1
        gevent_lite.sleep(0.01)


def main():
    print('FileObject is FileObjectPosix: %s' % (FileObject is FileObjectPosix))

    read_fd, write_fd = os.pipe()
    ticks = [0]
    tick = gevent_lite.spawn(ticker, ticks)
    r = gevent_lite.spawn(reader, read_fd)
    w = gevent_lite.spawn(writer, write_fd)
    gevent_lite.joinall([r, w])
    tick.kill()
    print('read from the pipe: %s' % r.value)
    print('ticks while the reader waited: %s' % ('several' if ticks[0] >= 10 else ticks[0]))

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'notes.txt')
        with FileObjectThread(path, 'w') as f:
            f.write('written in a worker thread\n')
        with FileObjectThread(path, 'r') as f:
            print('read back: %r' % f.read())


if __name__ == '__main__':
    main()
