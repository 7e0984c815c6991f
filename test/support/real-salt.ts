/**
 * real-salt: a real Salt master, salt-api (rest_cherrypy) and salt-cloud for the real-Salt suite, on free
 * loopback ports, with the product's own salt/ files installed the way the README says.
 *
 * ```
 *  source (SALT_SRC | ../shared/salt/salt-<v>.tar.gz | salt-master on PATH)
 *    --unpack to a temp dir--> master + salt-api (foreground children, own process groups)
 *    --salt-cloud provider `localproc` (test/real-salt/clouds, test-only)--> instances = local salt-minion
 *      processes, each in its own mount namespace (its own /usr/local/bin, so training-env's idle check
 *      is per instance) and with a fake `docker` that reports a training container while `busy` exists
 * ```
 * What is the product's and what is the test's:
 * - product: salt/master.d/salt-autoscaler.conf (reactor mapping, netapi_enable_clients, the external_auth
 *   ACL body), salt/reactor/, salt/orch/, salt/training-env/ — copied as shipped;
 * - test: TLS off on loopback, the ACL's backend `pam` swapped for `sharedsecret` (same body), the reactor
 *   path relocated under the temp root, a training-env pillar under which a deploy succeeds without GPUs
 *   (and fails, with the state's own comment, for an instance whose `fail` flag is set).
 * Every daemon runs as root (Salt's minions must mount their /usr/local/bin): the suite skips when not root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { freePort } from './service-process.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SHARED_SALT = join(ROOT, '..', 'shared', 'salt');

/** LabAction is one line of the localproc driver's action log. */
export interface LabAction {
  readonly at: number;
  readonly name: string;
  readonly action: 'start' | 'stop' | 'create' | 'destroy';
  /** was_running: the minion process was alive when the action began (a start of a running instance = a double start). */
  readonly was_running: boolean;
  /** busy: the instance had a training job (its busy flag) when the action began. */
  readonly busy: boolean;
  /** by: `salt-api` (the service, through the runner) or `operator` (the suite's salt-cloud by hand). */
  readonly by: string;
}

/** SaltSource is one Salt to run: an unpacked source tree (run with /usr/bin/python3) or an installed Salt. */
export interface SaltSource {
  /** label: e.g. `3006.10 (source)` or `installed`. */
  readonly label: string;
  /** tarball or directory of a source tree; undefined for an installed Salt. */
  readonly source?: string;
}

/** FoundSources lists the Salts the suite can run, or why it cannot run any. */
export interface FoundSources {
  readonly sources: readonly SaltSource[];
  readonly skip?: string;
}

/** SHARED_SECRET is the sharedsecret eauth password of the lab's `salt-autoscaler` user. */
export const SHARED_SECRET = 'real-salt-suite-secret';
/** PROVIDER is the salt-cloud provider name of the lab's instances. */
export const PROVIDER = 'lab-local';
/** PROFILE is the salt-cloud profile the lab's pools create instances from. */
export const PROFILE = 'lab-gpu';
/**
 * SLOW_PROFILE makes its instances as PROFILE does, after `create_delay` seconds in the driver: a create that
 * outlasts salt-api's wait for the runner (test/real-salt/profile-timeout.test.ts).
 */
export const SLOW_PROFILE = 'lab-gpu-slow';
/** SLOW_CREATE_S: how long SLOW_PROFILE's create waits before it makes the instance. */
export const SLOW_CREATE_S = 6;

/** findSaltSources looks for Salt: SALT_SRC, then ../shared/salt/*.tar.gz, then an installed salt-master. */
export function findSaltSources(): FoundSources {
  const why: string[] = [];
  if (process.getuid?.() !== 0) return { sources: [], skip: 'the real-Salt suite runs Salt as root (minions mount their own /usr/local/bin): run it as root' };
  const py = spawnSync('/usr/bin/python3', ['-c', 'import zmq, msgpack, cherrypy, jinja2, yaml, tornado'], { encoding: 'utf8' });
  const haveModules = py.status === 0;
  const env = process.env['SALT_SRC'];
  if (env !== undefined && env !== '') {
    if (!existsSync(env)) return { sources: [], skip: `SALT_SRC=${env} does not exist` };
    if (!haveModules) return { sources: [], skip: `SALT_SRC is set but /usr/bin/python3 lacks Salt's modules (see salt/README.md): ${py.stderr.trim()}` };
    return { sources: [{ label: `SALT_SRC ${env}`, source: env }] };
  }
  if (existsSync(SHARED_SALT)) {
    const tars = readdirSync(SHARED_SALT).filter((f) => /^salt-[\d.]+\.tar\.gz$/.test(f)).sort();
    if (tars.length > 0 && haveModules) return { sources: tars.map((t) => ({ label: t.replace(/^salt-|\.tar\.gz$/g, ''), source: join(SHARED_SALT, t) })) };
    if (tars.length > 0) why.push(`${SHARED_SALT} has Salt sources but /usr/bin/python3 lacks Salt's modules (${py.stderr.trim().split('\n').pop() ?? ''})`);
  } else {
    why.push(`no Salt sources at ${SHARED_SALT}`);
  }
  const installed = spawnSync('salt-master', ['--version'], { encoding: 'utf8' });
  if (installed.status === 0) return { sources: [{ label: `installed ${installed.stdout.trim()}` }] };
  why.push('no salt-master on PATH', 'no SALT_SRC');
  return { sources: [], skip: `no Salt to test against: ${why.join('; ')}` };
}

const LOOSEVERSION = `"""looseversion: a minimal stand-in (Debian 12 has no package) for Salt's imports, test-only."""
import re


class LooseVersion:
    component_re = re.compile(r"(\\d+|[a-z]+|\\.)", re.VERBOSE)

    def __init__(self, vstring=None):
        if vstring:
            self.parse(vstring)

    def parse(self, vstring):
        self.vstring = str(vstring)
        parts = [x for x in self.component_re.split(self.vstring) if x and x != "."]
        self.version = [int(x) if x.isdigit() else x for x in parts]

    def __str__(self):
        return self.vstring

    def __repr__(self):
        return "LooseVersion('%s')" % self.vstring

    def _cmp(self, other):
        if not isinstance(other, LooseVersion):
            other = LooseVersion(other)
        a, b = self.version, other.version
        for x, y in zip(a, b):
            if x == y:
                continue
            if type(x) is not type(y):
                x, y = str(x), str(y)
            return -1 if x < y else 1
        return (len(a) > len(b)) - (len(a) < len(b))

    def __eq__(self, other):
        return self._cmp(other) == 0

    def __lt__(self, other):
        return self._cmp(other) < 0

    def __le__(self, other):
        return self._cmp(other) <= 0

    def __gt__(self, other):
        return self._cmp(other) > 0

    def __ge__(self, other):
        return self._cmp(other) >= 0

    def __hash__(self):
        return hash(tuple(self.version))
`;

/** LabOptions shapes one lab. */
export interface LabOptions {
  /** reserved: the reserve's instance names (they exist, stopped). */
  readonly reserved: readonly string[];
  /** tokenExpireS: salt-api token lifetime (default 12 h, Salt's). */
  readonly tokenExpireS?: number;
}

interface Daemon {
  child: ChildProcess;
  exited: Promise<void>;
}

/** SaltLab is one running master + salt-api with the product's Salt files and the localproc provider. */
export class SaltLab {
  readonly dir: string;
  readonly conf: string;
  readonly apiUrl: string;
  readonly apiPort: number;
  readonly #source: SaltSource;
  readonly #opts: LabOptions;
  #srcDir = '';
  #pythonPath = '';
  #master: Daemon | undefined;
  #api: Daemon | undefined;
  readonly #ports: { pub: number; ret: number };
  /** saltVersion: what `salt-master --version` printed. */
  saltVersion = '';

  private constructor(source: SaltSource, opts: LabOptions, dir: string, ports: { api: number; pub: number; ret: number }) {
    this.#source = source;
    this.#opts = opts;
    this.dir = dir;
    this.conf = join(dir, 'etc');
    this.apiPort = ports.api;
    this.apiUrl = `http://127.0.0.1:${ports.api}`;
    this.#ports = { pub: ports.pub, ret: ports.ret };
  }

  /** start unpacks the source (when it is one), writes the configs, starts the master and salt-api, and waits for /login. */
  static async start(source: SaltSource, opts: LabOptions): Promise<SaltLab> {
    const dir = mkdtempSync(join(tmpdir(), 'asc-real-salt-'));
    const lab = new SaltLab(source, opts, dir, { api: await freePort(), pub: await freePort(), ret: await freePort() });
    try {
      lab.#unpack();
      lab.#writeConfig();
      await lab.startMaster();
      await lab.startApi();
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  #unpack(): void {
    const src = this.#source.source;
    if (src === undefined) return;
    const shim = join(this.dir, 'shim');
    mkdirSync(shim);
    writeFileSync(join(shim, 'looseversion.py'), LOOSEVERSION);
    if (src.endsWith('.tar.gz')) {
      const out = join(this.dir, 'src');
      mkdirSync(out);
      const r = spawnSync('tar', ['xzf', src, '-C', out, '--strip-components=1'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`could not unpack ${src}: ${r.stderr}`);
      this.#srcDir = out;
    } else {
      this.#srcDir = src;
    }
    this.#pythonPath = [this.#srcDir, shim].join(delimiter);
  }

  /** command is the argv of a Salt CLI or daemon (`salt-master`, `salt-run`, `salt-cloud`, …). */
  command(name: string): string[] {
    return this.#srcDir === '' ? [name] : ['/usr/bin/python3', join(this.#srcDir, 'scripts', name)];
  }

  /** env is the environment Salt's processes run with. */
  env(): NodeJS.ProcessEnv {
    return this.#pythonPath === '' ? { ...process.env } : { ...process.env, PYTHONPATH: this.#pythonPath };
  }

  #writeConfig(): void {
    const etc = this.conf;
    const srv = join(this.dir, 'srv');
    mkdirSync(join(etc, 'master.d'), { recursive: true });
    mkdirSync(join(etc, 'cloud.providers.d'), { recursive: true });
    mkdirSync(join(etc, 'cloud.profiles.d'), { recursive: true });
    // README step 2: the reactor to /srv/reactor/salt-autoscaler/, orch/ and training-env/ to file_roots.
    cpSync(join(ROOT, 'salt/reactor/salt-autoscaler'), join(srv, 'reactor/salt-autoscaler'), { recursive: true });
    cpSync(join(ROOT, 'salt/orch'), join(srv, 'salt/orch'), { recursive: true });
    cpSync(join(ROOT, 'salt/training-env'), join(srv, 'salt/training-env'), { recursive: true });
    mkdirSync(join(srv, 'pillar'), { recursive: true });
    mkdirSync(join(this.dir, 'flags'), { recursive: true });
    writeFileSync(join(srv, 'pillar/top.sls'), stringify({ base: { 'gpu-prod-* or gpu-dev-*': [{ match: 'compound' }, 'training-env'] } }));
    writeFileSync(join(srv, 'pillar/training-env.sls'), trainingEnvPillar(join(this.dir, 'flags')));

    // README step 1: the master.d snippet as shipped, but for TLS (off on loopback), the eauth backend and the reactor path.
    const shipped = parse(readFileSync(join(ROOT, 'salt/master.d/salt-autoscaler.conf'), 'utf8')) as Record<string, unknown>;
    const snippet = labSnippet(shipped, srv, this.apiPort);
    writeFileSync(join(etc, 'master.d/salt-autoscaler.conf'), stringify(snippet));

    const pki = join(this.dir, 'pki/master');
    const master = {
      root_dir: this.dir,
      pki_dir: pki,
      cachedir: join(this.dir, 'cache/master'),
      sock_dir: join(this.dir, 'run/master'),
      pidfile: join(this.dir, 'run/salt-master.pid'),
      log_file: join(this.dir, 'log/master'),
      api_logfile: join(this.dir, 'log/api'),
      api_pidfile: join(this.dir, 'run/salt-api.pid'),
      log_level_logfile: 'info',
      interface: '127.0.0.1',
      publish_port: this.#ports.pub,
      ret_port: this.#ports.ret,
      user: 'root',
      auto_accept: true,
      file_roots: { base: [join(srv, 'salt')] },
      pillar_roots: { base: [join(srv, 'pillar')] },
      sharedsecret: SHARED_SECRET,
      token_expire: this.#opts.tokenExpireS ?? 43_200,
      token_expire_user_override: true,
      keep_jobs_seconds: 3600,
      worker_threads: 5,
      cloud_dirs: [join(ROOT, 'test/real-salt/clouds')],
    };
    writeFileSync(join(etc, 'master'), stringify(master));

    const cloudDir = join(ROOT, 'test/real-salt/clouds');
    writeFileSync(join(etc, 'cloud'), stringify({ cloud_dirs: [cloudDir] }));
    const minionCmd = this.command('salt-minion');
    writeFileSync(join(etc, 'cloud.providers.d/lab.conf'), stringify({
      [PROVIDER]: {
        driver: 'localproc',
        state_dir: join(this.dir, 'instances'),
        minion_cmd: minionCmd,
        pythonpath: this.#pythonPath,
        master_port: this.#ports.ret,
        master_publish_port: this.#ports.pub,
        master_pki_dir: pki,
        reserved: [...this.#opts.reserved],
      },
    }));
    writeFileSync(join(etc, 'cloud.profiles.d/lab.conf'), stringify({ [PROFILE]: { provider: PROVIDER }, [SLOW_PROFILE]: { provider: PROVIDER, create_delay: SLOW_CREATE_S } }));
  }

  #spawn(name: string, args: string[]): Daemon {
    const [cmd, ...rest] = this.command(name);
    const child = spawn(cmd ?? name, [...rest, '-c', this.conf, ...args], { env: this.env(), detached: true, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { child, exited };
  }

  /** startMaster starts salt-master in the foreground (its own process group). */
  async startMaster(): Promise<void> {
    this.#master = this.#spawn('salt-master', ['-l', 'quiet']);
    if (this.saltVersion === '') this.saltVersion = this.run('salt-master', ['--version']).stdout.trim();
  }

  /** startApi starts salt-api and waits until /login answers with a token. */
  async startApi(): Promise<void> {
    this.#api = this.#spawn('salt-api', ['-l', 'quiet']);
    await this.waitFor(async () => (await this.login()) !== undefined, 180_000, 'salt-api /login');
  }

  /** stopApi stops salt-api (SIGTERM, then its process group after a grace period: cherrypy can hang with a stream open). */
  async stopApi(): Promise<void> {
    await stopDaemon(this.#api);
    this.#api = undefined;
  }

  /** stopMaster stops salt-master and waits for its processes to end. */
  async stopMaster(): Promise<void> {
    await stopDaemon(this.#master);
    this.#master = undefined;
  }

  /** login posts /login as the service's user; undefined while salt-api or the master is not up. */
  async login(): Promise<{ token: string; perms: unknown } | undefined> {
    try {
      const res = await fetch(`${this.apiUrl}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ username: 'salt-autoscaler', password: SHARED_SECRET, eauth: 'sharedsecret' }),
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) return undefined;
      const body = await res.json() as { return: { token: string; perms: unknown }[] };
      return body.return[0];
    } catch {
      return undefined;
    }
  }

  /** run runs a Salt CLI against the lab's config dir (synchronously; for setup and assertions). */
  run(name: string, args: string[], timeoutMs = 120_000): { status: number | null; stdout: string; stderr: string } {
    const [cmd, ...rest] = this.command(name);
    const r = spawnSync(cmd ?? name, [...rest, '-c', this.conf, ...args], { env: this.env(), encoding: 'utf8', timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** runAsync runs a Salt CLI without blocking the test's event loop. */
  async runAsync(name: string, args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const [cmd, ...rest] = this.command(name);
    return new Promise((resolve) => {
      const child = spawn(cmd ?? name, [...rest, '-c', this.conf, ...args], { env: { ...this.env(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    });
  }

  /** actions reads the localproc driver's log of every start, stop, create and destroy, oldest first. */
  actions(): readonly LabAction[] {
    try {
      return readFileSync(join(this.dir, 'instances', 'actions.log'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as LabAction);
    } catch {
      return [];
    }
  }

  /** cloudByHand runs `salt-cloud -a <action> <name> -y` as an operator would (logged with by: 'operator'). */
  async cloudByHand(action: 'start' | 'stop', name: string): Promise<void> {
    const r = await this.runAsync('salt-cloud', ['-a', action, name, '-y', '--out=json'], 120_000, { LOCALPROC_ACTOR: 'operator' });
    if (r.status !== 0) throw new Error(`salt-cloud -a ${action} ${name} exited ${r.status}: ${r.stderr}`);
  }

  /** runningNames lists the instances whose minion process is alive. */
  runningNames(): string[] {
    const inst = join(this.dir, 'instances');
    if (!existsSync(inst)) return [];
    return readdirSync(inst).filter((n) => existsSync(join(inst, n, 'minion')) && minionPid(join(inst, n)) !== undefined);
  }

  /** instanceDir is where the localproc driver keeps an instance. */
  instanceDir(name: string): string {
    return join(this.dir, 'instances', name);
  }

  /** minionLogTail is the last `lines` lines of an instance's minion log (for a failure's diagnosis), or why there are none. */
  minionLogTail(name: string, lines: number): string {
    const log = join(this.instanceDir(name), 'root', 'minion.log');
    if (!existsSync(log)) return `(no ${log}; minion ${this.running(name) ? 'running' : 'not running'})`;
    return `(minion ${this.running(name) ? 'running' : 'not running'})\n` + readFileSync(log, 'utf8').split('\n').slice(-lines - 1).join('\n');
  }

  /** running is true when the instance's minion process is alive. */
  running(name: string): boolean {
    const pid = minionPid(this.instanceDir(name));
    return pid !== undefined;
  }

  /** setBusy makes the instance's idle check (training-idle through the fake docker) report a training job. */
  setBusy(name: string, busy: boolean): void {
    const f = join(this.instanceDir(name), 'busy');
    if (busy) writeFileSync(f, '');
    else rmSync(f, { force: true });
  }

  /** setDeployFails makes the next deploys of the instance fail in training-env (the agent image is missing). */
  setDeployFails(name: string, fails: boolean): void {
    const f = join(this.dir, 'flags', `fail-${name}`);
    if (fails) writeFileSync(f, '');
    else rmSync(f, { force: true });
  }

  /** waitFor polls `cond` until it holds, or throws after timeoutMs naming `what` (a function: evaluated at the timeout). */
  async waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await cond()) return;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}\n--- master log (tail) ---\n${this.logTail('master', 15)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** logTail returns the last lines of the master's or salt-api's log. */
  logTail(which: 'master' | 'api', lines = 40): string {
    try {
      return readFileSync(join(this.dir, 'log', which), 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** close stops every instance, salt-api and the master, and removes the temp dir. */
  async close(): Promise<void> {
    // every minion of the lab runs with `-c <its instance dir>`: its processes are found by that path
    spawnSync('pkill', ['-9', '-f', join(this.dir, 'instances')]);
    await this.stopApi();
    await this.stopMaster();
    // every process of the lab names its dir on its command line: wait until the last one is gone (a worker still
    // exiting writes its job cache and log lines), then remove the tree
    for (let i = 0; i < 50 && spawnSync('pgrep', ['-f', this.dir]).status === 0; i += 1) {
      spawnSync('pkill', ['-9', '-f', this.dir]);
      await new Promise((r) => setTimeout(r, 200));
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

/** labSnippet is the shipped master.d snippet with the lab's three changes (TLS, eauth backend, reactor path). */
function labSnippet(shipped: Record<string, unknown>, srv: string, apiPort: number): Record<string, unknown> {
  const reactor = (shipped['reactor'] as Record<string, string[]>[]).map((entry) =>
    Object.fromEntries(Object.entries(entry).map(([tag, files]) => [tag, files.map((f) => f.replace(/^\/srv\//, `${srv}/`))])));
  const eauth = shipped['external_auth'] as Record<string, unknown>;
  const pam = eauth['pam'];
  if (pam === undefined) throw new Error('the shipped master.d snippet has no external_auth.pam entry');
  return {
    ...shipped,
    reactor,
    rest_cherrypy: { port: apiPort, host: '127.0.0.1', disable_ssl: true },
    external_auth: { sharedsecret: pam },
  };
}

/**
 * trainingEnvPillar: a deploy that succeeds on a machine without GPUs, container runtime or agent image (the
 * image "carries" the runtime), and fails in training-env for an instance whose flag file exists: with the
 * agent enabled and no image, the formula's own test.fail_without_changes says why.
 */
function trainingEnvPillar(flags: string): string {
  return `{%- set failing = salt['file.file_exists']('${flags}/fail-' ~ grains['id']) %}
training_env:
  manage_runtime: false
  pkg_refresh: false
  gpu:
    enabled: false
  agent:
    enabled: {{ failing | tojson }}
    image: ''
  idle_check:
    gpu_processes: false
`;
}

function minionPid(instanceDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(instanceDir, 'root', 'minion.pid'), 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}


async function stopDaemon(d: Daemon | undefined): Promise<void> {
  if (d === undefined || d.child.pid === undefined) return;
  if (d.child.exitCode !== null || d.child.signalCode !== null) return;
  const pgid = d.child.pid;
  try { process.kill(-pgid, 'SIGTERM'); } catch { /* gone */ }
  const grace = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000));
  if (await Promise.race([d.exited.then(() => 'exited' as const), grace]) === 'timeout') {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
    await d.exited;
  }
  // children of the group that outlived the leader
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* none left */ }
}
