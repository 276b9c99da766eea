"""The monkey-patching events: what patch_all() announces, and a subscriber that vetoes a module.

The subscriber is registered before ``patch_all()`` runs, so it sees every
event; raising ``DoNotPatch`` from the will-event of ``subprocess`` leaves that
module as the standard library's while everything else is patched.
"""

from gevent_lite import events, monkey

seen = []


def on_event(event):
    if isinstance(event, events.GeventWillPatchModuleEvent):
        seen.append('will patch %s: %d names' % (event.module_name, len(event.target_item_names)))
        if event.module_name == 'subprocess':
            seen.append('  vetoed')
            raise events.DoNotPatch()
    elif isinstance(event, events.GeventDidPatchModuleEvent):
        seen.append('did patch %s' % event.module_name)
    else:
        seen.append(type(event).__name__)


events.subscribers.append(on_event)
result = monkey.patch_all()
events.subscribers.remove(on_event)

print('\n'.join(seen))
print('patch_all() returned %s' % result)
print('socket patched: %s' % monkey.is_module_patched('socket'))
print('subprocess patched: %s' % monkey.is_module_patched('subprocess'))
