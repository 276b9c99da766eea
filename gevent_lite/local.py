"""Greenlet-local storage: :class:`local`, like ``threading.local`` but per greenlet.

Each greenlet (``Greenlet``s, raw ``greenlet.greenlet``s, the main greenlet and
the hub alike) sees its own attributes on a :class:`local` instance. A subclass's
``__init__`` runs again, with the constructor's arguments, the first time each
greenlet touches the object. Names in a subclass's ``__slots__`` are *not*
local (they live on the object, shared by all greenlets), as with
``threading.local``.

Nothing here parks or talks to the hub. The per-greenlet dicts are kept in a
table on the local object keyed by ``id(greenlet)`` and guarded by a weak
reference to the greenlet, whose callback drops the greenlet's dict when the
greenlet is freed: short-lived greenlets leave nothing behind, and nothing here
keeps a greenlet (or its frames) alive. Dropping the local object drops every
greenlet's dict.
"""

from weakref import ref

from greenlet import getcurrent

__all__ = ['local']


class _LocalImpl:
    """The per-local state: ``dicts`` maps ``id(greenlet)`` to (weakref(greenlet), dict)."""

    __slots__ = ('__weakref__', 'args', 'dicts', 'kwargs', 'wrself', 'wrlocal')

    def __init__(self, args, kwargs):
        self.dicts = {}
        self.args = args
        self.kwargs = kwargs
        self.wrself = ref(self)
        self.wrlocal = None

    def create_dict(self, greenlet):
        key = id(greenlet)
        wrimpl = self.wrself

        def greenlet_freed(_, key=key):
            # Runs when the greenlet object is deallocated (before its id can be
            # reused), so a new greenlet never inherits a dead one's attributes.
            impl = wrimpl()
            if impl is not None:
                entry = impl.dicts.get(key)
                if entry is not None and entry[0]() is None:
                    del impl.dicts[key]
                    # The local's __dict__ still points at the dict of the greenlet
                    # that touched it last: let go of it too, or that greenlet's
                    # values outlive it until another greenlet touches the local.
                    owner = impl.wrlocal() if impl.wrlocal is not None else None
                    if owner is not None and object.__getattribute__(owner, '__dict__') is entry[1]:
                        object.__setattr__(owner, '__dict__', {})

        d = {}
        self.dicts[key] = (ref(greenlet, greenlet_freed), d)
        return d


def _current_dict(self):
    """Point ``self.__dict__`` at the current greenlet's dict (creating it and
    re-running ``__init__`` on a greenlet's first touch)."""
    impl = object.__getattribute__(self, '_local__impl')
    g = getcurrent()
    entry = impl.dicts.get(id(g))
    if entry is not None and entry[0]() is g:
        d = entry[1]
        object.__setattr__(self, '__dict__', d)
        return d
    d = impl.create_dict(g)
    object.__setattr__(self, '__dict__', d)
    cls = type(self)
    if cls.__init__ is not object.__init__:
        cls.__init__(self, *impl.args, **impl.kwargs)
    # __init__ may have switched greenlets (and re-pointed __dict__): point it back.
    object.__setattr__(self, '__dict__', d)
    return d


class local:
    """An object whose attributes are private to each greenlet."""

    __slots__ = ('__dict__', '__weakref__', '_local__impl')

    def __new__(cls, *args, **kwargs):
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError('Initialization arguments are not supported')
        self = object.__new__(cls)
        impl = _LocalImpl(args, kwargs)
        impl.wrlocal = ref(self)
        object.__setattr__(self, '_local__impl', impl)
        # The creating greenlet's dict; __init__ is run for it by the normal call.
        d = impl.create_dict(getcurrent())
        object.__setattr__(self, '__dict__', d)
        return self

    def __getattribute__(self, name):
        if name in ('_local__impl', '__class__'):
            return object.__getattribute__(self, name)
        _current_dict(self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if name == '__dict__':
            raise AttributeError("%r object attribute '__dict__' is read-only"
                                 % type(self).__name__)
        _current_dict(self)
        return object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name == '__dict__':
            raise AttributeError("%r object attribute '__dict__' is read-only"
                                 % type(self).__name__)
        _current_dict(self)
        return object.__delattr__(self, name)

    def __copy__(self):
        impl = object.__getattribute__(self, '_local__impl')
        # Built by calling the class with the constructor's arguments, as gevent
        # does: __init__ runs (so slot attributes it sets exist on the copy), then
        # the copy gets a shallow copy of the current greenlet's attributes.
        new = type(self)(*impl.args, **impl.kwargs)
        object.__getattribute__(new, '__dict__').update(_current_dict(self))
        return new

    def _local_statistics(self):
        """How many greenlets currently have a dict on this local (for debugging)."""
        return {'greenlets': len(object.__getattribute__(self, '_local__impl').dicts)}
