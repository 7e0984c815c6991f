/**
 * packed install: what a user or the Salt formula gets. `npm pack` (which builds dist/ through prepare), install the
 * tarball into an empty directory, then run the installed `salt-autoscaler --version` and a short `demo` there — no
 * TypeScript, no tsx, no checkout. Slow (npm fetches or revalidates every dependency): it lives in the e2e suite.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

t.setTimeout(20 * 60_000);

t.test('the packed package installs into an empty directory and runs --version and a demo', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'asc-packed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const began = Date.now();
  execFileSync('npm', ['pack', '--pack-destination', dir, '--no-audit', '--no-fund'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = readdirSync(dir).find((n) => n.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack wrote no tarball');
  const packed = statSync(join(dir, tarball)).size;
  const listing = execFileSync('tar', ['tzf', join(dir, tarball)], { encoding: 'utf8' });
  t.match(listing, 'package/dist/cli.js', 'the compiled CLI is in the package');
  t.match(listing, 'package/dist/http/static/status.js', 'with the status page files');
  t.notMatch(listing, /package\/src\//, 'no TypeScript sources');
  t.notMatch(listing, /package\/test\//, 'no tests');

  const app = join(dir, 'app');
  execFileSync('mkdir', [app]);
  // a consumer allows better-sqlite3's install script the way this project does (npm asks for it)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packed-install-check', private: true, allowScripts: { 'better-sqlite3': true } }));
  const installing = Date.now();
  // Install scripts are skipped, and better-sqlite3's native addon, the one thing they would build (minutes of g++),
  // is taken from this checkout's own build of the same pinned version for the same Node: what is checked here is the
  // package (its files, its dependency tree, no tsx), not better-sqlite3's build, which `npm ci` ran already.
  execFileSync('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', join(dir, tarball)], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  cpSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build'), join(app, 'node_modules', 'better-sqlite3', 'build'), { recursive: true });
  const installMs = Date.now() - installing;
  t.notOk(existsSync(join(app, 'node_modules', 'tsx')), 'tsx is not installed with the package');
  t.notOk(existsSync(join(app, 'node_modules', 'esbuild')), 'nor esbuild');
  const bin = join(app, 'node_modules', '.bin', 'salt-autoscaler');
  t.equal(execFileSync(bin, ['--version'], { cwd: app, encoding: 'utf8' }), `${VERSION}\n`);

  const child = spawn(bin, ['demo', '--port', '0', '--duration-s', '25'], { cwd: app, env: { ...process.env, TMPDIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.equal(code, 0, out);
  t.match(out, /status page http:\/\/127\.0\.0\.1:\d+\//);
  t.match(out, /prod\/type1 {2}scaleUp: /, 'the installed demo scales up');
  t.match(out, /deploying -> ready/, 'an instance becomes ready');
  t.same(readdirSync(dir).filter((n) => n.startsWith('salt-autoscaler-demo-')), [], 'the demo removed its temp dir');
  t.comment(`packed ${Math.round(packed / 1024)} KiB; pack + install + run ${Math.round((Date.now() - began) / 1000)} s, install ${Math.round(installMs / 1000)} s`);
});
