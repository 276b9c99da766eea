"""A Flask app served by gevent_lite.pywsgi that calls an async library (aiohttp).

The view is ordinary synchronous Flask code. To fetch from the upstream API it
calls ``await_(coroutine)``: only the request's greenlet waits, while the
coroutine runs on the hub's asyncio loop -- in the same thread, beside every
other request. The "upstream API" is an aiohttp web server started in this
process on the same loop, answering each request after 0.2 s. Ten browsers
ask at once; all ten answers arrive in about 0.2 s, not 2 s.

Run: python examples/flask_asyncio.py       (needs flask and aiohttp)
"""

from gevent_lite import monkey

monkey.patch_all()          # as a gevent deployment does; not needed by the bridge itself

import asyncio  # noqa: E402 (after patching)
import time  # noqa: E402

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from flask import Flask, jsonify  # noqa: E402

import gevent_lite  # noqa: E402
from gevent_lite.asyncio_bridge import await_  # noqa: E402
from gevent_lite.pywsgi import WSGIServer  # noqa: E402

UPSTREAM = {}               # filled in by main(): the upstream's base URL


# -- the async library's side: plain aiohttp code --------------------------------------------

async def fetch_quote(symbol):
    """Ask the upstream API for a price (a coroutine, as async libraries offer them)."""
    async with aiohttp.ClientSession() as session:
        async with session.get('%s/quote/%s' % (UPSTREAM['url'], symbol)) as resp:
            resp.raise_for_status()
            return await resp.json()


async def start_upstream():
    """A slow upstream API: every answer takes 0.2 s."""
    async def quote(request):
        await asyncio.sleep(0.2)
        symbol = request.match_info['symbol']
        return web.json_response({'symbol': symbol, 'price': 100 + len(symbol)})

    app = web.Application()
    app.router.add_get('/quote/{symbol}', quote)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, '127.0.0.1', 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, 'http://%s:%d' % (host, port)


# -- the Flask app: synchronous code, calling the async library through await_() -------------

app = Flask(__name__)


@app.route('/price/<symbol>')
def price(symbol):
    quote = await_(fetch_quote(symbol))     # parks this request's greenlet only
    return jsonify(symbol=quote['symbol'], price=quote['price'])


# -- running it ----------------------------------------------------------------------------

def get(port, path):
    """A plain blocking HTTP client (green, since the program patched the stdlib)."""
    import http.client
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def main():
    runner, UPSTREAM['url'] = await_(start_upstream())
    server = WSGIServer(('127.0.0.1', 0), app, log=None)
    server.start()
    print('flask app on http://127.0.0.1:%d/' % server.server_port)

    symbols = ['ACME', 'GL', 'PY', 'ASYNC', 'SYNC', 'HUB', 'LOOP', 'TASK', 'FUT', 'AWAIT']
    started = time.monotonic()
    jobs = [gevent_lite.spawn(get, server.server_port, '/price/' + s) for s in symbols]
    gevent_lite.joinall(jobs, timeout=20, raise_error=True)
    elapsed = time.monotonic() - started
    print(jobs[0].value[0], jobs[0].value[1].strip())
    print('%d answers with status 200' % sum(job.value[0] == 200 for job in jobs))
    print('elapsed: %.2f s' % elapsed)           # about 0.2 s: the ten waits overlap

    server.stop()
    await_(runner.cleanup())


if __name__ == '__main__':
    main()
