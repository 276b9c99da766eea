"""A backdoor session: a Python console inside a running process, over TCP on 127.0.0.1.

The server runs in this process next to a greenlet that counts ticks; a green
socket client connects, types statements as a person would with ``nc``, and
prints what comes back. The statements run inside the server process: they see
the objects passed in ``locals``, and a statement that sleeps parks only the
session's greenlet, so the ticker keeps ticking meanwhile.
"""

import gevent_lite
from gevent_lite import socket
from gevent_lite.backdoor import BackdoorServer

PROMPT = b'>>> '


def ticker(state):
    while True:
        state['ticks'] += 1
        gevent_lite.sleep(0.01)


def read_until_prompt(conn):
    data = b''
    while not data.endswith(PROMPT):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode().replace('\r\n', '\n')


def main():
    state = {'ticks': 0}
    worker = gevent_lite.spawn(ticker, state)
    server = BackdoorServer(('127.0.0.1', 0), locals={'state': state, 'worker': worker, 'gevent_lite': gevent_lite},
                            banner='backdoor into the example process')
    server.start()
    print('backdoor on 127.0.0.1:%d' % server.server_port)

    with socket.create_connection(('127.0.0.1', server.server_port)) as conn:
        print(read_until_prompt(conn), end='')
        for statement in ['print(6 * 7)',
                          'state["ticks"] > 0',
                          'worker.dead',
                          'before = state["ticks"]; gevent_lite.sleep(0.2)',
                          'state["ticks"] - before >= 5',
                          '1 / 0']:
            conn.sendall(statement.encode() + b'\n')
            answer = read_until_prompt(conn)
            print(statement)
            print(answer, end='')
        conn.sendall(b'exit()\n')
        print('exit()')
        print('session closed by the server: %s' % (conn.recv(100) == b''))

    server.stop()
    worker.kill()
    print('server stopped: %s' % server.closed)


if __name__ == '__main__':
    main()
