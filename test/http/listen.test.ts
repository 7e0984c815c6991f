import t from 'tap';
import { ConfigError } from '../../src/errors.ts';
import { parseListen } from '../../src/http/listen.ts';

t.test('parseListen reads host:port, :port, port and [v6]:port, defaulting to loopback', async (t) => {
  t.same(parseListen('127.0.0.1:9717'), { host: '127.0.0.1', port: 9717 });
  t.same(parseListen('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
  t.same(parseListen('salt-master.internal:9717'), { host: 'salt-master.internal', port: 9717 });
  t.same(parseListen(':9717'), { host: '127.0.0.1', port: 9717 });
  t.same(parseListen('9717'), { host: '127.0.0.1', port: 9717 });
  t.same(parseListen('[::1]:9717'), { host: '::1', port: 9717 });
  t.same(parseListen(' 127.0.0.1:0 '), { host: '127.0.0.1', port: 0 });
});

t.test('parseListen rejects what is not host:port with a config error on http.listen', async (t) => {
  for (const bad of ['', 'localhost', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '::1:9717', 'http://127.0.0.1:9717', '1.2.3.4:80:90']) {
    let caught: unknown;
    try {
      parseListen(bad);
    } catch (err) {
      caught = err;
    }
    t.ok(caught instanceof ConfigError, JSON.stringify(bad));
    t.match(caught, { code: 'ASC_ERR_CONFIG_INVALID', problems: [{ path: 'http.listen' }] }, JSON.stringify(bad));
  }
});
