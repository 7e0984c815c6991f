import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { freePort } from './support/service-process.ts';

t.test('freePort draws loopback ports below the kernel\'s ephemeral range, each free to listen on', { skip: process.platform === 'linux' ? false : 'reads /proc' }, async (t) => {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const ports: number[] = [];
  for (let i = 0; i < 20; i += 1) ports.push(await freePort());
  t.ok(ports.every((p) => p >= 10_000 && p < low), `all of ${ports.join(', ')} below ${low}`);
  let bound = 0;
  for (const port of ports) {
    const srv = createServer();
    const ok = await new Promise<boolean>((resolve) => { srv.once('error', () => { resolve(false); }); srv.listen(port, '127.0.0.1', () => { resolve(true); }); });
    if (ok) {
      bound += 1;
      await new Promise<void>((resolve) => { srv.close(() => { resolve(); }); });
    }
  }
  t.equal(bound, ports.length, 'a listener binds on each');
});
