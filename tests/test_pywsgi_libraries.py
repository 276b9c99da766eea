"""gevent-based libraries on gevent_lite.pywsgi, unchanged (issue 14).

gevent-websocket's ``WebSocketHandler`` (a ``gevent.pywsgi.WSGIHandler``
subclass) and Flask-SocketIO in ``async_mode='gevent'`` run in a server
subprocess after :func:`gevent_lite.install_as_gevent`, so their
``import gevent`` gets gevent_lite. Each server answers ``/proof`` with where its
``gevent`` came from and which modules of the real, installed gevent are
loaded: the tests check that ``gevent.pywsgi`` is ``gevent_lite.pywsgi`` and
that no module of the real gevent was imported. The clients are the real
client libraries (websocket-client, python-socketio) in this process, in OS
threads. A Flask application runs on gevent_lite.pywsgi in this process.
"""

import concurrent.futures
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

import gevent_lite as gevent
from gevent_lite.pywsgi import WSGIServer

from _helpers import ROOT, free_port, in_thread


PROOF = r'''
import json, os, sys, sysconfig
def proof():
    import gevent, gevent.pywsgi, gevent_lite, gevent_lite.pywsgi
    real = os.path.join(sysconfig.get_paths()['purelib'], 'gevent') + os.sep
    loaded = sorted(n for n, m in list(sys.modules.items())
                    if (getattr(m, '__file__', None) or '').startswith(real))
    return json.dumps({'gevent_is_lite': gevent is gevent_lite,
                       'pywsgi_is_lite': gevent.pywsgi is gevent_lite.pywsgi,
                       'real_gevent_modules': loaded}).encode()
'''

WEBSOCKET_SERVER = PROOF + r'''
import gevent_lite
gevent_lite.install_as_gevent()
from gevent import pywsgi
from geventwebsocket.handler import WebSocketHandler
assert issubclass(WebSocketHandler, gevent_lite.pywsgi.WSGIHandler)

def app(environ, start_response):
    ws = environ.get('wsgi.websocket')
    if ws is None:
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [proof()]
    while True:
        message = ws.receive()
        if message is None:
            break
        ws.send(message, binary=isinstance(message, (bytes, bytearray)))
    return []

server = pywsgi.WSGIServer(('127.0.0.1', 0), app, handler_class=WebSocketHandler, log=None)
server.start()
print(server.server_port, flush=True)
server.serve_forever()
'''

SOCKETIO_SERVER = PROOF + r'''
import gevent_lite
gevent_lite.install_as_gevent()
from gevent import monkey
monkey.patch_all()
import sys
from flask import Flask
from flask_socketio import SocketIO, emit

app = Flask(__name__)
sio = SocketIO(app, async_mode='gevent')
assert sio.async_mode == 'gevent', sio.async_mode

@app.route('/proof')
def proof_route():
    return proof(), 200, {'Content-Type': 'application/json'}

@sio.on('echo')
def on_echo(data):
    emit('echoed', {'got': data})
    return {'ack': data}

sio.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_output=False)
'''


class ServerProcess:
    """A server script in a fresh interpreter; ``port`` from its first stdout line or given."""

    def __init__(self, script, port=None):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        args = [sys.executable, '-c', textwrap.dedent(script)] + ([str(port)] if port else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        if port is None:
            line = self.proc.stdout.readline().decode().strip()
            assert line.isdigit(), line + self.proc.stderr.read().decode() if self.proc.poll() is not None else line
            port = int(line)
        self.port = port
        self._wait_listening()

    def _wait_listening(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('server exited: %s' % self.proc.stderr.read().decode())
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError('server did not listen within 30 s')

    def proof(self):
        with urllib.request.urlopen('http://127.0.0.1:%d/proof' % self.port, timeout=10) as resp:
            return json.loads(resp.read())

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc.stdout.close()
        err = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        return err


def assert_runs_on_gevent_lite(server):
    proof = server.proof()
    assert proof == {'gevent_is_lite': True, 'pywsgi_is_lite': True, 'real_gevent_modules': []}, proof


def test_gevent_websocket_handler_serves_many_concurrent_echo_sessions_on_gevent_lite():
    pytest.importorskip('geventwebsocket')
    websocket = pytest.importorskip('websocket')
    server = ServerProcess(WEBSOCKET_SERVER)
    try:
        assert_runs_on_gevent_lite(server)
        url = 'ws://127.0.0.1:%d/echo' % server.port

        def session(n):
            ws = websocket.create_connection(url, timeout=20)
            try:
                for i in range(20):
                    text = 'session %d message %d' % (n, i)
                    ws.send(text)
                    assert ws.recv() == text
                blob = bytes(range(256)) * 400          # 100 KB, binary, several frames' worth
                ws.send_binary(blob)
                assert ws.recv() == blob
            finally:
                ws.close()
            return n

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            done = list(pool.map(session, range(50), timeout=120))
        assert done == list(range(50))
    finally:
        err = server.close()
    assert 'Traceback' not in err, err


@pytest.mark.parametrize('transport', ['websocket', 'polling'])
def test_flask_socketio_in_gevent_mode_echoes_over_websocket_and_polling_on_gevent_lite(transport):
    pytest.importorskip('flask_socketio')
    pytest.importorskip('geventwebsocket')
    socketio = pytest.importorskip('socketio')
    pytest.importorskip('websocket')
    pytest.importorskip('requests')
    server = ServerProcess(SOCKETIO_SERVER, port=free_port())
    try:
        assert_runs_on_gevent_lite(server)

        def client(n):
            got = []
            event = threading.Event()
            sio = socketio.Client(reconnection=False)

            @sio.on('echoed')
            def on_echoed(data):
                got.append(data)
                event.set()

            sio.connect('http://127.0.0.1:%d' % server.port, transports=[transport], wait_timeout=20)
            try:
                assert sio.transport() == transport
                acks = [sio.call('echo', {'n': n, 'i': i}, timeout=20) for i in range(5)]
                assert event.wait(20)
                deadline = time.monotonic() + 20
                while len(got) < 5 and time.monotonic() < deadline:
                    time.sleep(0.01)
            finally:
                sio.disconnect()
            assert acks == [{'ack': {'n': n, 'i': i}} for i in range(5)]
            assert got == [{'got': {'n': n, 'i': i}} for i in range(5)]
            return n

        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            done = list(pool.map(client, range(10), timeout=120))
        assert done == list(range(10))
    finally:
        err = server.close()
    assert 'Traceback' not in err, err


# ---------------------------------------------------------------------------
# A Flask application on gevent_lite.pywsgi (in this process).

def test_flask_app_on_pywsgi_query_strings_multipart_upload_and_streamed_response():
    flask = pytest.importorskip('flask')
    requests = pytest.importorskip('requests')
    app = flask.Flask(__name__)

    @app.route('/search')
    def search():
        args = flask.request.args
        return flask.jsonify(q=args.get('q'), tags=args.getlist('tag'), page=args.get('page', type=int))

    @app.route('/upload', methods=['POST'])
    def upload():
        f = flask.request.files['file']
        data = f.read()
        return flask.jsonify(name=f.filename, size=len(data), first=data[:4].hex(),
                             note=flask.request.form.get('note'))

    @app.route('/stream')
    def stream():
        def generate():
            for i in range(5):
                yield 'line %d\n' % i
                gevent.sleep(0.05)            # the server streams while the app sleeps
        return flask.Response(generate(), mimetype='text/plain')

    server = WSGIServer(('127.0.0.1', 0), app, log=None)
    server.start()
    base = 'http://127.0.0.1:%d' % server.server_port
    upload_bytes = os.urandom(300000)
    try:
        def client():
            s = requests.Session()
            r1 = s.get(base + '/search', params=[('q', 'a b&c'), ('tag', 'x'), ('tag', 'é'), ('page', '3')],
                       timeout=10)
            r2 = s.post(base + '/upload', files={'file': ('data.bin', io.BytesIO(upload_bytes))},
                        data={'note': 'hello'}, timeout=10)
            chunks = []
            arrival = []
            with s.get(base + '/stream', stream=True, timeout=10) as r3:
                for line in r3.iter_lines():
                    chunks.append(line)
                    arrival.append(time.monotonic())
                encoding = r3.headers.get('Transfer-Encoding')
            return r1, r2, chunks, arrival, encoding
        r1, r2, chunks, arrival, encoding = in_thread(client, timeout=30.0)
    finally:
        server.stop()
    assert r1.status_code == 200
    assert r1.json() == {'q': 'a b&c', 'tags': ['x', 'é'], 'page': 3}
    assert r2.status_code == 200
    assert r2.json() == {'name': 'data.bin', 'size': 300000, 'first': upload_bytes[:4].hex(), 'note': 'hello'}
    assert chunks == [b'line %d' % i for i in range(5)]
    assert encoding == 'chunked'
    assert arrival[-1] - arrival[0] > 0.1       # lines arrived as they were produced, not at the end
