"""gevent_lite.monkey: patching API, warnings and repairs, the CLI, and the seed programs
(each in a fresh interpreter whose first act is patching)."""

import os
import queue
import subprocess
import sys
import textwrap
import threading

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(code, timeout=60, args=(), cwd=ROOT, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + (env_extra or ''))
    return subprocess.run([sys.executable] + (['-c', textwrap.dedent(code)] if code else []) + list(args),
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def check(code, **kw):
    res = run(code, **kw)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_patch_all_replaces_blocking_names_and_keeps_originals():
    check('''
        import socket, time, select, selectors, threading, _thread
        # kept in a tuple: module globals holding a class would be re-pointed by the repair
        origs = (time.sleep, socket.socket, select.select)
        orig_sleep, orig_select = origs[0], origs[2]
        from gevent_lite import monkey
        assert monkey.patch_all() is True
        import gevent_lite.socket, gevent_lite.time
        assert time.sleep is gevent_lite.time.sleep and socket.socket is gevent_lite.socket.socket
        assert monkey.get_original('time', 'sleep') is orig_sleep
        assert monkey.get_original('socket', ['socket', 'AF_INET']) == [origs[1], socket.AF_INET]
        assert monkey.get_original('select', 'select') is orig_select
        assert monkey.is_module_patched('socket') and monkey.is_object_patched('time', 'sleep')
        assert not monkey.is_object_patched('time', 'monotonic') and not monkey.is_module_patched('json')
        assert not hasattr(select, 'epoll') and monkey.get_original('select', 'epoll')
        assert threading.Lock().__module__ == 'gevent_lite.lock'
        assert monkey.saved['time']['sleep'] is orig_sleep
        # Idempotent: a second call changes nothing and keeps the true originals.
        before = {m: dict(v) for m, v in monkey.saved.items()}
        monkey.patch_all(); monkey.patch_socket(); monkey.patch_thread(); monkey.patch_time()
        assert monkey.saved == before
        assert monkey.get_original('time', 'sleep') is orig_sleep
    ''')


def test_thread_pool_and_resolver_keep_real_threads_after_patching():
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading, time, socket, gevent_lite
        hub = gevent_lite.get_hub()
        real = monkey.get_original('_thread', 'get_ident')
        idents = [hub.threadpool.apply(real) for _ in range(3)]
        assert real() not in idents, 'thread pool ran in the hub thread'
        # a blocking C call in the pool does not stop greenlets
        ticks = []
        g = gevent_lite.spawn(lambda: [ticks.append(time.sleep(0.02)) for _ in range(10)])
        hub.threadpool.apply(monkey.get_original('time', 'sleep'), (0.3,))
        assert len(ticks) >= 5, ticks
        assert socket.getaddrinfo('127.0.0.1', 80)
    ''')


def test_missing_green_module_raises_clear_error():
    from gevent_lite import monkey
    with pytest.raises(monkey.MonkeyPatchError, match='gevent_lite.no_such_module does not exist'):
        monkey._patch_green('no_such_module')
    assert issubclass(monkey.MonkeyPatchWarning, RuntimeWarning)


def test_ssl_imported_before_patching_warns_with_its_name():
    pytest.importorskip('gevent_lite.ssl')
    out = check('''
        import ssl, warnings
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        print([str(x.message) for x in w if issubclass(x.category, monkey.MonkeyPatchWarning)])
    ''')
    assert 'ssl was imported before patching; SSLContext objects created before this point stay blocking' in out


def test_ssl_warning_names_direct_imports_and_subclasses_left_blocking_in_one_warning():
    pytest.importorskip('gevent_lite.ssl')
    out = check('''
        import warnings
        from ssl import SSLContext
        class MyContext(SSLContext):
            pass
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
            monkey.patch_all()
        msgs = [str(x.message) for x in w if issubclass(x.category, monkey.MonkeyPatchWarning)]
        print(len(msgs))
        print(msgs[0])
        import ssl
        print(SSLContext is ssl.SSLContext, MyContext.__bases__[0] is ssl.SSLContext)
    ''')
    count, message, repaired = out.strip().splitlines()
    assert count == '1'
    assert 'Modules that had direct imports' in message and '__main__.SSLContext' in message
    assert 'Subclasses (NOT patched)' in message and '__main__.MyContext' in message
    assert 'gevent_lite' not in message
    assert repaired == 'True False'


def test_ssl_warning_without_direct_imports_names_only_the_subclasses():
    pytest.importorskip('gevent_lite.ssl')
    out = check('''
        import ssl, warnings
        class MyContext(ssl.SSLContext):
            pass
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        print([str(x.message) for x in w if issubclass(x.category, monkey.MonkeyPatchWarning)])
    ''')
    assert 'Modules that had direct imports' not in out
    assert 'Subclasses (NOT patched)' in out and '__main__.MyContext' in out


def test_threads_started_before_patching_are_named_in_a_warning():
    out = check('''
        import threading, warnings, time
        ev = threading.Event()
        t = threading.Thread(target=ev.wait, name='early-bird', daemon=True); t.start()
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        print([str(x.message) for x in w])
        monkey.get_original('threading', 'Event')  # still reachable
    ''')
    assert 'early-bird' in out and 'stay real OS threads' in out


def test_references_captured_before_patching_are_repointed_and_named(tmp_path):
    # gevent#1577: a library that cached DefaultSelector / sleep / socket at import.
    (tmp_path / 'earlylib.py').write_text(textwrap.dedent('''
        import selectors, select
        from selectors import DefaultSelector
        from time import sleep
        from socket import socket
        from select import epoll
        class Server:
            selector_class = selectors.DefaultSelector
            sleep = sleep
            pause = sleep     # a function under another name is a deliberate grab: left alone
    '''))
    out = check('''
        import earlylib, warnings, socketserver
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        import gevent_lite.selectors, gevent_lite.time, gevent_lite.socket, time, gevent_lite
        assert earlylib.DefaultSelector is gevent_lite.selectors.DefaultSelector
        assert earlylib.sleep is gevent_lite.time.sleep and earlylib.socket is gevent_lite.socket.socket
        assert earlylib.Server.selector_class is gevent_lite.selectors.DefaultSelector
        # the C function in a class body became a (non-binding) green function
        t0 = time.monotonic()
        g = gevent_lite.spawn(earlylib.Server().sleep, 0.5); g2 = gevent_lite.spawn(time.sleep, 0.5)
        gevent_lite.joinall([g, g2]); assert time.monotonic() - t0 < 0.9 and g.successful()  # sum: 1 s
        assert earlylib.Server.pause is monkey.get_original('time', 'sleep')
        # the stdlib's own captured selector (socketserver) is repaired silently
        assert socketserver._ServerSelector is gevent_lite.selectors.DefaultSelector
        msgs = [str(x.message) for x in w]
        print(msgs)
    ''', env_extra=str(tmp_path))
    assert 'earlylib.DefaultSelector' in out and 'earlylib.sleep' in out
    assert 'earlylib.Server.selector_class' in out
    assert 'earlylib.epoll (select.epoll)' in out and 'cannot be replaced' in out
    assert 'socketserver' not in out


def test_module_level_rlock_created_before_patching_excludes_greenlets(tmp_path):
    # eventlet#546 / gevent#1354: a native RLock is owned by the one OS thread, so every
    # greenlet would "acquire" it at once. It is replaced by a green one.
    (tmp_path / 'locklib.py').write_text('import threading\nlock = threading.RLock()\nplain = threading.Lock()\n')
    out = check('''
        import locklib, warnings
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        import gevent_lite, time
        log = []
        def actor(name):
            with locklib.lock:
                log.append(name + ' in'); time.sleep(0.05); log.append(name + ' out')
        gevent_lite.joinall([gevent_lite.spawn(actor, 'A'), gevent_lite.spawn(actor, 'B')])
        assert log == ['A in', 'A out', 'B in', 'B out'], log
        print([str(x.message) for x in w])
    ''', env_extra=str(tmp_path))
    assert 'locklib.lock' in out and 'locklib.plain' in out


def test_cli_runs_script_as_main_with_args_after_patching(tmp_path):
    script = tmp_path / 'prog.py'
    script.write_text(textwrap.dedent('''
        import sys, time, threading
        from gevent_lite import monkey
        print(__name__, sys.argv[1:], monkey.is_object_patched('time', 'sleep'),
              monkey.is_module_patched('threading'))
    '''))
    res = run(None, args=['-m', 'gevent_lite.monkey', str(script), 'a', '--b'])
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ['__main__', "['a',", "'--b']", 'True', 'True']
    res = run(None, args=['-m', 'gevent_lite.monkey', '--no-thread', str(script)])
    assert res.stdout.split()[-2:] == ['True', 'False'], res.stdout + res.stderr
    res = run(None, args=['-m', 'gevent_lite.monkey', '-m', 'json.tool', '--help'])
    assert res.returncode == 0 and 'usage' in res.stdout.lower()
    res = run(None, args=['-m', 'gevent_lite.monkey', '--no-bogus', str(script)])
    assert res.returncode == 2 and 'unknown option --no-bogus' in res.stderr


def test_patch_sys_reads_stdin_without_blocking_other_greenlets():
    # The main greenlet reads stdin first; the ticker only runs if that read parks
    # it. We send the line only after seeing ticks, so every tick before it was
    # printed while stdin had no data (no fixed sleep: a loaded machine may take
    # seconds to start the child).
    code = textwrap.dedent('''
        from gevent_lite import monkey; monkey.patch_all(sys=True)
        import sys, time, gevent_lite
        def ticker():
            for i in range(600):          # bounded: 30 s at most
                time.sleep(0.05)
                print('tick', i, flush=True)
        g = gevent_lite.spawn(ticker)
        line = sys.stdin.readline()
        print('line', line.strip(), flush=True)
        g.kill()
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, '-c', code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=env)
    lines = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x.strip()) for x in p.stdout], daemon=True)
    reader.start()
    try:
        seen = [lines.get(timeout=30) for _ in range(3)]
        assert seen == ['tick 0', 'tick 1', 'tick 2'], seen
        p.stdin.write('hello\n')
        p.stdin.flush()
        rest = []
        while not rest or rest[-1].startswith('tick'):
            rest.append(lines.get(timeout=30))
        assert rest[-1] == 'line hello', seen + rest
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_patch_sys_leaves_stdout_and_stderr_the_real_streams_as_gevent_does():
    # gevent's patch_sys does nothing on Python 3 (a thread-pool-backed stdout hung the
    # final flush at exit). Ours wraps stdin only; stdout/stderr are accepted and ignored,
    # so writes, their type, and a large flush at exit behave as without patching.
    code = textwrap.dedent('''
        import io, sys
        out, err = sys.stdout, sys.stderr
        from gevent_lite import monkey
        monkey.patch_all(sys=True)
        monkey.patch_sys(stdin=True, stdout=True, stderr=True)
        assert sys.stdout is out and sys.stderr is err, (sys.stdout, sys.stderr)
        assert type(sys.stdout) is io.TextIOWrapper and type(sys.stderr) is io.TextIOWrapper
        assert sys.stdin is not sys.__stdin__ and sys.stdin.fileno() == 0
        assert monkey.is_object_patched('sys', 'stdin')
        assert not monkey.is_object_patched('sys', 'stdout') and not monkey.is_object_patched('sys', 'stderr')
        sys.stderr.write('to stderr\\n')
        sys.stdout.write('x' * 1000000 + '\\n')   # left buffered: flushed at exit
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, '-c', code], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, env=env, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout == 'x' * 1000000 + '\n'
    assert res.stderr == 'to stderr\n'


@pytest.mark.parametrize('event_flag', [True, False])
def test_patch_thread_event_flag_keeps_the_stdlib_event_which_parks_only_its_greenlet(event_flag):
    # gevent's Event=True swaps in gevent.event.Event; ours keeps threading.Event (built on
    # the green Condition) either way, and waiting on it still lets other greenlets run.
    out = check('''
        import threading
        stdlib_event = threading.Event
        from gevent_lite import monkey
        monkey.patch_all(Event=%r)
        import time, gevent_lite
        assert threading.Event is stdlib_event and threading.Event.__module__ == 'threading'
        assert not monkey.is_object_patched('threading', 'Event')
        ev = threading.Event()
        ticks = []
        def ticker():
            while not ev.is_set():
                ticks.append(1); time.sleep(0.02)
        gevent_lite.spawn(ticker)
        gevent_lite.spawn_later(0.3, ev.set)
        t0 = time.monotonic()
        assert ev.wait(5) is True
        waited = time.monotonic() - t0
        # a real OS thread (the hub's pool) may set it too
        ev2 = threading.Event()
        real_sleep = monkey.get_original('time', 'sleep')
        gevent_lite.get_hub().threadpool.spawn(lambda: (real_sleep(0.1), ev2.set()))
        assert ev2.wait(5) is True
        print(round(waited, 2), len(ticks) >= 5)
    ''' % event_flag)
    waited, ticked = out.split()
    assert 0.2 < float(waited) < 2.0 and ticked == 'True', out

# ---------------------------------------------------------------------------------------
# The seed programs

def test_seed_threading_xmlrpc_server_answers_20_concurrent_calls_despite_half_sent_requests():
    out = check('''
        from gevent_lite import monkey
        monkey.patch_socket(); monkey.patch_thread(); monkey.patch_select(); monkey.patch_time()
        import socket, socketserver, threading, time, xmlrpc.client
        from xmlrpc.server import SimpleXMLRPCServer
        import gevent_lite
        class Server(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
            daemon_threads = True     # socketserver's own backlog (5) as the seed has it
        srv = Server(('127.0.0.1', 0), logRequests=False)
        srv.register_function(lambda x: (time.sleep(0.2), x * 2)[1], 'double')
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        port = srv.server_address[1]
        # clients that send half a request and keep the connection open
        stalled = []
        for _ in range(5):
            s = socket.create_connection(('127.0.0.1', port))
            s.sendall(b'POST /RPC2 HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 500\\r\\n\\r\\n<?xml')
            stalled.append(s)
        def call(i):
            return xmlrpc.client.ServerProxy('http://127.0.0.1:%d/' % port).double(i)
        t0 = time.monotonic()
        gs = [gevent_lite.spawn(call, i) for i in range(20)]
        gevent_lite.joinall(gs, timeout=10)
        assert [g.value for g in gs] == [i * 2 for i in range(20)], [g.exception for g in gs]
        print(round(time.monotonic() - t0, 2))
        srv.shutdown()
    ''')
    assert float(out) < 3.0


def test_seed_accept_loop_spawning_a_handler_per_client_serves_100_concurrent_clients():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import socket, time, gevent_lite
        srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', 0)); srv.listen(128); port = srv.getsockname()[1]
        def handle(conn):
            with conn:
                data = conn.recv(100); time.sleep(0.3); conn.sendall(data.upper())
        def accept_loop():
            while True:
                conn, _ = srv.accept(); gevent_lite.spawn(handle, conn)
        gevent_lite.spawn(accept_loop)
        def client(i):
            with socket.create_connection(('127.0.0.1', port)) as c:
                c.sendall(b'hi%d' % i); return c.recv(100)
        t0 = time.monotonic()
        gs = [gevent_lite.spawn(client, i) for i in range(100)]
        gevent_lite.joinall(gs, timeout=15)
        assert [g.value for g in gs] == [b'HI%d' % i for i in range(100)]
        print(round(time.monotonic() - t0, 2))
    ''')
    assert float(out) < 3.0


def test_seed_ten_concurrent_urlopen_against_a_slow_local_server_overlap():
    out = check('''
        from gevent_lite import monkey; monkey.patch_all()
        import threading, time, urllib.request, gevent_lite
        from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                time.sleep(0.5); body = self.path.encode()
                self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
                self.wfile.write(body)
            def log_message(self, *a): pass
        srv = ThreadingHTTPServer(('127.0.0.1', 0), H)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = 'http://127.0.0.1:%d/' % srv.server_address[1]
        t0 = time.monotonic()
        fetch = lambda i: urllib.request.urlopen(url + str(i), timeout=10).read()
        gs = [gevent_lite.spawn(fetch, i) for i in range(10)]
        gevent_lite.joinall(gs, timeout=10)
        assert [g.value for g in gs] == [b'/%d' % i for i in range(10)], [g.exception for g in gs]
        print(round(time.monotonic() - t0, 2))
        srv.shutdown()
    ''')
    assert float(out) < 2.0     # the sum would be 5 s


def test_ssl_context_setters_do_not_recurse_after_patching_for_old_and_new_contexts():
    # gevent#1016/#1777: ssl.py's setters call super(SSLContext, SSLContext) with the
    # module-global name, which patching turns into the green subclass -> RecursionError.
    pytest.importorskip('gevent_lite.ssl')
    check('''
        import ssl, warnings
        early = ssl.create_default_context()
        from gevent_lite import monkey
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', monkey.MonkeyPatchWarning)
            monkey.patch_all()
        late = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        for ctx in (early, late):
            ctx.options |= ssl.OP_NO_TLSv1
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.verify_flags |= ssl.VERIFY_X509_STRICT
            assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2 and ctx.options & ssl.OP_NO_TLSv1
    ''')


def test_patch_queue_makes_the_c_simplequeue_green_even_in_a_fresh_import():
    # CPython's CSimpleQueueTest gets its class from import_fresh_module('queue',
    # fresh=['_queue']): a new _queue module whose C get() blocked the hub.
    check('''
        from gevent_lite import monkey; monkey.patch_all()
        import importlib, queue, _queue, sys, threading, time
        try:
            from test.support import import_helper
        except ImportError:              # 3.9: in test.support itself
            from test import support as import_helper
        from gevent_lite.queue_stdlib import SimpleQueue
        assert _queue.SimpleQueue is SimpleQueue and queue.SimpleQueue is SimpleQueue
        c_queue = import_helper.import_fresh_module('queue', fresh=['_queue'])
        assert sys.modules['_queue'] is not _queue or c_queue is not queue
        assert c_queue.SimpleQueue is SimpleQueue, c_queue.SimpleQueue
        assert c_queue.Empty is queue.Empty
        # across green threads: the getter parks, the producer runs
        q = c_queue.SimpleQueue(); got = []
        def producer():
            for i in range(5):
                time.sleep(0.001); q.put(i)
        t = threading.Thread(target=producer); t.start()
        got = [q.get(timeout=5) for _ in range(5)]
        t.join()
        assert got == list(range(5)), got
        try:
            q.get(timeout=0.01)
        except c_queue.Empty:
            pass
        else:
            raise AssertionError('no Empty')
        # the other patched modules survive a reload too
        import time as time_mod
        importlib.reload(time_mod)
        assert time_mod.sleep.__module__ == 'gevent_lite.time', time_mod.sleep
    ''')


def test_green_simplequeue_checks_a_negative_timeout_before_looking_at_items():
    check('''
        from gevent_lite import monkey; monkey.patch_queue()
        import queue
        q = queue.SimpleQueue(); q.put(1)
        try:
            q.get(timeout=-1)
        except ValueError as e:
            assert 'non-negative' in str(e)
        else:
            raise AssertionError('negative timeout accepted')
        assert q.get(block=False, timeout=-1) == 1      # ignored when not blocking, as in C
    ''')


def test_cli_without_arguments_prints_help_and_succeeds():
    res = run(None, args=['-m', 'gevent_lite.monkey'])
    assert res.returncode == 0 and 'usage' in res.stdout.lower(), res.stdout + res.stderr


def test_cli_accepts_gevents_module_and_verbose_options(tmp_path):
    (tmp_path / 'mymod.py').write_text('import sys, time; from gevent_lite import monkey\n'
                                       'print(__name__, sys.argv[1:], monkey.is_object_patched("time", "sleep"))\n')
    res = run(None, args=['-m', 'gevent_lite.monkey', '--verbose', '--module', 'mymod', 'x'],
              cwd=str(tmp_path), env_extra=str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ['__main__', "['x']", 'True']
    assert 'patched' in res.stderr and 'socket' in res.stderr and 'time' in res.stderr


def test_cli_prints_no_warning_for_a_plain_script(tmp_path):
    script = tmp_path / 'plain.py'
    script.write_text('print("hi")\n')
    res = run(None, args=['-W', 'always', '-m', 'gevent_lite.monkey', str(script)])
    assert res.returncode == 0 and res.stdout.strip() == 'hi'
    assert res.stderr == '', res.stderr


def test_is_anything_patched_and_patch_item_remove_item_keep_originals():
    check('''
        import types
        from gevent_lite import monkey
        assert not monkey.is_anything_patched()
        mod = types.ModuleType('mymod'); mod.f = len; mod.g = abs
        import sys; sys.modules['mymod'] = mod
        monkey.patch_item(mod, 'f', max)
        monkey.remove_item(mod, 'g')
        monkey.remove_item(mod, 'absent')
        assert mod.f is max and not hasattr(mod, 'g')
        assert monkey.get_original('mymod', 'f') is len and monkey.get_original('mymod', 'g') is abs
        assert monkey.is_anything_patched() and monkey.is_object_patched('mymod', 'g')
    ''')


def test_a_patched_program_with_a_logging_handler_exits_without_an_ignored_exception():
    # A handler no logger holds (Flask makes one at import, flask.logging.default_handler)
    # is collected at interpreter exit, after greenlet finalized the greenlets; its
    # weakref callback takes logging's module lock. Before the fix: "Exception ignored
    # ... RuntimeError: greenlet is being finalized" at every exit.
    res = run('from gevent_lite import monkey; monkey.patch_all()\n'
              'import logging\n'
              'handler = logging.StreamHandler()\n'
              'handler.handle(logging.makeLogRecord({"msg": "logged"}))\n')
    assert res.returncode == 0, res.stderr
    assert 'logged' in res.stderr
    assert 'Exception ignored' not in res.stderr and 'Traceback' not in res.stderr, res.stderr


def test_green_modules_split_all_into_implements_imports_and_extensions():
    # gevent's module convention, which tools written for gevent read: __all__ is
    # what the module replaces (__implements__: new objects of stdlib names),
    # re-exports unchanged (__imports__: the stdlib's own objects) and adds
    # (__extensions__: names the stdlib module lacks).
    import importlib
    import _thread
    import selectors
    import socket
    import subprocess
    from gevent_lite import resolver
    for name, std in [('thread', _thread), ('subprocess', subprocess), ('selectors', selectors),
                      ('socket', socket), ('resolver', None)]:
        mod = resolver if std is None else importlib.import_module('gevent_lite.' + name)
        implements = getattr(mod, '__implements__', None) or []
        imports = getattr(mod, '__imports__', [])
        extensions = getattr(mod, '__extensions__', [])
        for n in implements:
            assert getattr(mod, n) is not getattr(std, n), (name, n)
        for n in imports:
            assert getattr(mod, n) is getattr(std, n), (name, n)
        for n in extensions:
            assert std is None or not hasattr(std, n), (name, n)
        if name in ('thread', 'subprocess', 'resolver'):
            public = [n for n in implements if not n.startswith('_')]
            assert sorted(public + imports + extensions) == sorted(mod.__all__), name


def test_a_program_run_with_dash_m_is_repaired_whatever_its_package_is_called(tmp_path):
    # Only gevent_lite's own monkey module run as __main__ is left alone; a
    # program package whose name merely starts like ours ('geventapp') is not.
    pkg = tmp_path / 'geventapp'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'main.py').write_text(textwrap.dedent('''
        import warnings
        from selectors import DefaultSelector
        from gevent_lite import monkey
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            monkey.patch_all()
        import selectors
        print(DefaultSelector is selectors.DefaultSelector)
        print([str(x.message) for x in w if 'captured before' in str(x.message)])
    '''))
    res = subprocess.run([sys.executable, '-m', 'geventapp.main'], cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    first, warned = res.stdout.splitlines()
    assert first == 'True'
    assert '__main__.DefaultSelector' in warned


def test_patch_all_makes_no_hub_and_threading_spin_locks_end():
    out = check('''
        from gevent_lite import monkey, hub
        monkey.patch_all()
        assert hub.get_hub_if_exists() is None, 'patch_all() made a hub'
        import threading
        lock = threading.Lock()
        lock.acquire()
        started = []
        def background():
            started.append(True)
            while not lock.acquire(False):
                pass
        t = threading.Thread(target=background)
        t.start()
        assert started == [True]
        t.join(0)
        lock.release()
        t.join()
        print('ok')
    ''')
    assert 'ok' in out
