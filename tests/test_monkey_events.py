"""gevent_lite.monkey sends gevent's patching events (gevent_lite.events) in gevent's order.

Patching is process-global, so every test runs in a fresh interpreter whose
subscriber is installed before anything is patched.
"""

import textwrap

import _helpers as helpers

PROLOGUE = '''
import socket, time
from gevent_lite import events, monkey
# in a dict: module globals holding an original class would be re-pointed by the repair scan
ORIG = {'sleep': time.sleep, 'socket': socket.socket}
seen = []
def record(event):
    seen.append((type(event).__name__, getattr(event, 'module_name', None)))
events.subscribers.append(record)
'''


def check(code, timeout=60):
    return helpers.check_python(PROLOGUE + textwrap.dedent(code), timeout=timeout)


def test_patch_all_sends_will_all_module_pairs_builtins_and_did_all_in_order():
    check('''
        state = {}
        def observe(event):
            name = type(event).__name__
            if name == 'GeventWillPatchAllEvent':
                # Sent before anything is patched, with the arguments and extra kwargs.
                state['all_args'] = event.patch_all_arguments
                state['kwargs'] = event.patch_all_kwargs
                state['nothing_patched_yet'] = not monkey.saved and time.sleep is ORIG['sleep']
                state['will_socket'] = event.will_patch_module('socket')
                state['will_sys'] = event.will_patch_module('sys')
            elif event_is(event, 'GeventWillPatchModuleEvent', 'socket'):
                state['socket_before'] = socket.socket is ORIG['socket']
                state['socket_items'] = list(event.target_item_names)
                state['socket_source'] = event.source.__name__
                state['socket_target'] = event.target is socket
            elif event_is(event, 'GeventDidPatchModuleEvent', 'socket'):
                state['socket_after'] = socket.socket is not ORIG['socket']
        def event_is(event, kind, module):
            return type(event).__name__ == kind and event.module_name == module
        events.subscribers.append(observe)

        assert monkey.patch_all(myplugin_option=42) is True

        names = [n for n, _m in seen]
        assert names[0] == 'GeventWillPatchAllEvent', seen
        assert names[-2:] == ['GeventDidPatchBuiltinModulesEvent', 'GeventDidPatchAllEvent'], seen
        modules = seen[1:-2]
        wills = [m for n, m in modules if n == 'GeventWillPatchModuleEvent']
        dids = [m for n, m in modules if n == 'GeventDidPatchModuleEvent']
        assert len(wills) + len(dids) == len(modules), seen
        for module in ('os', 'time', '_thread', 'threading', 'socket', 'select', 'selectors',
                       'ssl', 'subprocess', 'signal', 'queue'):
            assert wills.count(module) == 1 and dids.count(module) == 1, (module, seen)
            # each module's will comes before its did
            assert modules.index(('GeventWillPatchModuleEvent', module)) < \\
                modules.index(('GeventDidPatchModuleEvent', module)), (module, seen)
        assert 'sys' not in wills                               # sys=False by default
        # gevent's order of the patchers: os, then the thread modules, time, ..., then socket
        assert wills.index('os') < wills.index('_thread') < wills.index('socket') < wills.index('ssl')

        assert state['nothing_patched_yet'], state
        assert state['all_args']['socket'] is True and state['all_args']['sys'] is False, state
        assert state['kwargs'] == {'myplugin_option': 42}, state
        assert state['will_socket'] and not state['will_sys'], state
        assert state['socket_before'] and state['socket_after'], state
        assert 'socket' in state['socket_items'] and 'getaddrinfo' in state['socket_items'], state
        assert state['socket_source'] == 'gevent_lite.socket' and state['socket_target'], state

        # Calling again with nothing new patches nothing and sends nothing.
        before = list(seen)
        assert monkey.patch_all() is True
        assert seen == before, seen[len(before):]
    ''')


def test_do_not_patch_from_will_patch_all_cancels_everything_until_a_later_call():
    check('''
        def veto(event):
            if isinstance(event, events.GeventWillPatchAllEvent):
                raise events.DoNotPatch
        events.subscribers.append(veto)
        assert monkey.patch_all() is False
        assert time.sleep is ORIG['sleep'] and socket.socket is ORIG['socket'] and not monkey.saved
        assert [n for n, _ in seen] == ['GeventWillPatchAllEvent'], seen
        events.subscribers.remove(veto)
        assert monkey.patch_all() is True
        assert time.sleep is not ORIG['sleep'] and socket.socket is not ORIG['socket']
        assert seen[-1] == ('GeventDidPatchAllEvent', None), seen
    ''')


def test_do_not_patch_from_a_module_event_skips_only_that_module():
    check('''
        import ssl
        orig = {'context': ssl.SSLContext}
        def veto_ssl(event):
            if isinstance(event, events.GeventWillPatchModuleEvent) and event.module_name == 'ssl':
                raise events.DoNotPatch
        events.subscribers.append(veto_ssl)
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')       # ssl was imported first, on purpose
            assert monkey.patch_all() is True
        assert ssl.SSLContext is orig['context'] and not monkey.is_module_patched('ssl')
        assert socket.socket is not ORIG['socket'] and time.sleep is not ORIG['sleep']
        assert ('GeventWillPatchModuleEvent', 'ssl') in seen
        assert ('GeventDidPatchModuleEvent', 'ssl') not in seen
        assert seen[-1] == ('GeventDidPatchAllEvent', None)
    ''')


def test_a_subscriber_may_shorten_the_item_list_of_a_module():
    check('''
        orig = {'create_connection': socket.create_connection}
        def keep_create_connection(event):
            if isinstance(event, events.GeventWillPatchModuleEvent) and event.module_name == 'socket':
                event.target_item_names.remove('create_connection')
        events.subscribers.append(keep_create_connection)
        monkey.patch_socket()
        assert socket.create_connection is orig['create_connection']
        assert socket.socket is not ORIG['socket']
        assert seen == [('GeventWillPatchModuleEvent', 'socket'), ('GeventDidPatchModuleEvent', 'socket')]
    ''')


def test_did_patch_builtins_subscriber_can_patch_a_third_party_module_with_patch_module():
    # What gevent suggests to plugins: patch a library once the stdlib is green.
    check('''
        import types
        lib = types.ModuleType('thirdparty'); lib.fetch = lambda: 'blocking'
        sys_modules = __import__('sys').modules
        sys_modules['thirdparty'] = lib
        green = types.ModuleType('thirdparty_green'); green.fetch = lambda: 'green'
        green.__implements__ = ['fetch']
        def plugin(event):
            if isinstance(event, events.GeventDidPatchBuiltinModulesEvent):
                assert monkey.patch_module(lib, green) == ['fetch']
        events.subscribers.append(plugin)
        monkey.patch_all()
        assert lib.fetch() == 'green' and monkey.get_original('thirdparty', 'fetch')() == 'blocking'
        i = seen.index(('GeventDidPatchBuiltinModulesEvent', None))
        assert seen[i + 1:] == [('GeventWillPatchModuleEvent', 'thirdparty'),
                                ('GeventDidPatchModuleEvent', 'thirdparty'),
                                ('GeventDidPatchAllEvent', None)], seen[i:]
    ''')


def test_patch_all_with_sys_sends_the_sys_module_events():
    check('''
        monkey.patch_all(sys=True)
        assert ('GeventWillPatchModuleEvent', 'sys') in seen and ('GeventDidPatchModuleEvent', 'sys') in seen
    ''')


def test_vetoing_select_still_patches_selectors():
    check('''
        import select, selectors
        orig = {'select': select.select, 'default': selectors.DefaultSelector}
        def veto_select(event):
            if isinstance(event, events.GeventWillPatchModuleEvent) and event.module_name == 'select':
                raise events.DoNotPatch
        events.subscribers.append(veto_select)
        monkey.patch_select()
        assert select.select is orig['select'] and not monkey.is_module_patched('select')
        assert selectors.DefaultSelector is not orig['default']
        assert seen == [('GeventWillPatchModuleEvent', 'select'), ('GeventWillPatchModuleEvent', 'selectors'),
                        ('GeventDidPatchModuleEvent', 'selectors')], seen
    ''')


def test_patching_warnings_point_at_the_programs_patch_call(tmp_path):
    # The patchers nest differently on each path (patch_all -> patch_thread -> repairs),
    # so each warning names the first frame outside gevent_lite.monkey: the program's line.
    script = tmp_path / 'late.py'
    # The early thread waits for an event set after patching (not a fixed sleep, which
    # a loaded machine outlived before patch_all ran): it is alive when patching looks.
    script.write_text(textwrap.dedent('''
        import ssl, threading, time, warnings
        from selectors import DefaultSelector
        warnings.simplefilter('always')
        ev = threading.Event(); t = threading.Thread(target=ev.wait, args=(60,)); t.start()
        from gevent_lite import monkey
        monkey.patch_all()
        monkey.patch_ssl()
        ev.set(); t.join(60); assert not t.is_alive()
    '''))
    res = helpers.run_python(args=[str(script)], cwd=str(tmp_path))
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if 'MonkeyPatchWarning' in line]
    assert any('ssl was imported before patching' in line for line in lines), res.stderr
    assert any('threads were started before patching' in line for line in lines), res.stderr
    assert any('__main__.DefaultSelector' in line for line in lines), res.stderr
    for line in lines:
        assert line.startswith('%s:7: MonkeyPatchWarning' % script), res.stderr
