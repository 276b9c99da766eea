"""Started by every interpreter the gevent-suite runner launches (it puts this folder on
PYTHONPATH): with GEVENT_SUITE_ON_LITE set, ``import gevent`` is gevent_lite in that
process and in every Python subprocess a test starts (they inherit the environment)."""

import os
import sys

if os.environ.get('GEVENT_SUITE_ON_LITE'):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        import gevent_shim
    finally:
        del sys.path[0]
    gevent_shim.install(os.environ['GEVENT_SUITE_ON_LITE'])
