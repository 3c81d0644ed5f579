// One pod on the process kubelet: its network namespace, volumes, init
// containers, containers as local process groups, probes, restarts with
// back-off, status reporting and graceful termination.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { ApiError, type KubeClient, type KubeObject } from '../kube/client.js';
import { net as netConfig, ports, repoRoot } from '../env/config.js';
import { containerArgv, resolveImage } from './images.js';
import { containerEnv, expand } from './env.js';
import { prepareVolumes, VolumeNotReady } from './volumes.js';
import { createPodNetwork, deletePodNetwork, netnsName } from './netns.js';

export const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Container = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Probe = any;

type State =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; message?: string; startedAt: string; finishedAt: string } };

interface Run {
  spec: Container;
  init: boolean;
  proc?: ChildProcess;
  state: State;
  lastState: State | Record<string, never>;
  restartCount: number;
  ready: boolean;
  started: boolean;
  startedAtMs: number;
  /** Set while the process is being killed on purpose by a liveness failure. */
  killReason?: string;
  probeTimers: NodeJS.Timeout[];
  /** Resolves when the current process exits. */
  exited?: Promise<number>;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface PodHost {
  client: KubeClient;
  log: (msg: string) => void;
  /** Called when the pod's IP or readiness changes, so DNS records can be refreshed. */
  changed: () => void;
  allocateIP: (uid: string) => string;
  releaseIP: (uid: string) => void;
  writeHosts: (pod: PodWorker) => void;
}

export class PodWorker {
  pod: KubeObject;
  readonly uid: string;
  readonly netns: string;
  readonly dir: string;
  podIP = '';
  private runs = new Map<string, Run>();
  private initDone = false;
  private phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed' = 'Pending';
  private terminating = false;
  private stopped = false;
  private statusTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private statusChain: Promise<void> = Promise.resolve();
  private startTime = now();
  private volumes = new Map<string, string>();
  private networkReady = false;
  private lastTransition = new Map<string, { status: string; time: string }>();
  private readonly terminated: Promise<void>;
  private resolveTerminated!: () => void;

  constructor(pod: KubeObject, readonly host: PodHost, kubeletDir: string) {
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.netns = netnsName(this.uid);
    this.dir = join(kubeletDir, 'pods', this.uid);
    this.terminated = new Promise((r) => (this.resolveTerminated = r));
    for (const c of pod.spec.initContainers ?? []) this.runs.set(c.name, this.newRun(c, true));
    for (const c of pod.spec.containers ?? []) this.runs.set(c.name, this.newRun(c, false));
  }

  get name(): string {
    return `${this.pod.metadata.namespace}/${this.pod.metadata.name}`;
  }

  get isReady(): boolean {
    return this.phase === 'Running' && [...this.runs.values()].filter((r) => !r.init).every((r) => r.ready);
  }

  private newRun(spec: Container, init: boolean): Run {
    return {
      spec,
      init,
      state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } },
      lastState: {},
      restartCount: 0,
      ready: false,
      started: false,
      startedAtMs: 0,
      probeTimers: [],
    };
  }

  private log(msg: string): void {
    this.host.log(`pod ${this.name}: ${msg}`);
  }

  update(pod: KubeObject): void {
    this.pod = pod;
  }

  /** Runs the pod until it terminates or is deleted. */
  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    try {
      this.podIP = this.host.allocateIP(this.uid);
      createPodNetwork(this.netns, this.podIP);
      this.networkReady = true;
      this.host.writeHosts(this);
      this.scheduleStatus();
      this.host.changed();
      while (!this.stopped) {
        try {
          this.volumes = await prepareVolumes(this.host.client, this.pod, this.dir);
          break;
        } catch (e) {
          if (!(e instanceof VolumeNotReady) && !(e instanceof ApiError)) throw e;
          this.setAllWaiting('ContainerCreating', (e as Error).message);
          await sleep(1000);
        }
      }
      await this.runInitContainers();
      if (this.stopped) return;
      this.initDone = true;
      this.phase = 'Running';
      this.refreshTimer = setInterval(() => void this.refreshVolumes(), 10_000);
      for (const run of this.runs.values()) if (!run.init) void this.supervise(run);
      this.scheduleStatus();
    } catch (e) {
      this.log(`failed: ${(e as Error).stack ?? e}`);
      this.phase = 'Failed';
      this.scheduleStatus();
    }
  }

  /** Propagates Secret and ConfigMap changes into mounted volumes, like the kubelet's periodic sync. */
  private async refreshVolumes(): Promise<void> {
    if (this.stopped) return;
    try {
      await prepareVolumes(this.host.client, this.pod, this.dir, true);
    } catch (e) {
      if (!(e instanceof VolumeNotReady)) this.log(`volume refresh: ${(e as Error).message}`);
    }
  }

  private setAllWaiting(reason: string, message: string): void {
    for (const run of this.runs.values()) {
      if ('waiting' in run.state && (run.state.waiting.reason !== reason || run.state.waiting.message !== message)) {
        run.state = { waiting: { reason, message } };
        this.scheduleStatus();
      }
    }
  }

  private restartPolicy(): string {
    return this.pod.spec.restartPolicy ?? 'Always';
  }

  private backoffMs(run: Run): number {
    return Math.min(1000 * 2 ** Math.min(run.restartCount, 5), 20_000);
  }

  private async runInitContainers(): Promise<void> {
    for (const run of this.runs.values()) {
      if (!run.init) continue;
      // Restartable init containers ("sidecars") start and keep running.
      if (run.spec.restartPolicy === 'Always') {
        void this.supervise(run);
        continue;
      }
      for (;;) {
        if (this.stopped) return;
        const code = await this.launch(run);
        if (this.stopped) return;
        if (code === 0) break;
        if (this.restartPolicy() === 'Never') {
          this.phase = 'Failed';
          this.stopped = true;
          this.scheduleStatus();
          return;
        }
        run.restartCount++;
        // As the real kubelet: the failed run stays visible (exit code, reason) in lastState.
        run.lastState = run.state;
        run.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off restarting failed init container ${run.spec.name}` } };
        this.scheduleStatus();
        await sleep(this.backoffMs(run));
      }
    }
  }

  /** Keeps a regular container running according to the pod's restart policy. */
  private async supervise(run: Run): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const code = await this.launch(run);
      if (this.stopped) return;
      const policy = run.init ? 'Always' : this.restartPolicy();
      const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
      if (!restart) {
        this.checkFinished();
        return;
      }
      if (Date.now() - run.startedAtMs > 60_000) run.restartCount = Math.min(run.restartCount, 1);
      const delay = this.backoffMs(run);
      run.restartCount++;
      run.lastState = run.state;
      run.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${run.spec.name} pod=${this.pod.metadata.name}` } };
      this.scheduleStatus();
      await sleep(delay);
    }
  }

  private checkFinished(): void {
    const regular = [...this.runs.values()].filter((r) => !r.init);
    if (!regular.every((r) => 'terminated' in r.state)) return;
    const failed = regular.some((r) => 'terminated' in r.state && r.state.terminated.exitCode !== 0);
    this.phase = failed ? 'Failed' : 'Succeeded';
    this.stopped = true;
    this.scheduleStatus();
  }

  /**
   * Writes the script that sets up a container's mounts and then execs its
   * program. Sources are first bound into a private tmpfs staging area, so a
   * mountPath that shadows the state directory (for example /work) cannot
   * hide the sources of later mounts; targets are mounted parents first.
   */
  private wrapperScript(run: Run): string {
    const stage = `/run/kve2e/${this.uid}/${run.spec.name}`;
    const lines = ['set -e', `mkdir -p ${shellQuote(stage)}`, `mount -t tmpfs -o size=1m kve2e-stage ${shellQuote(stage)}`];
    const targets: { staged: string; target: string; dir: boolean; readOnly: boolean }[] = [];
    (run.spec.volumeMounts ?? []).forEach((m: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }, i: number) => {
      const base = this.volumes.get(m.name);
      if (!base) throw new Error(`volume mount ${m.name}: no such volume`);
      // Programs run from the host's filesystem: a mount over their directories would hide them.
      for (const needed of [repoRoot, dirname(process.execPath)]) {
        const mp = m.mountPath.replace(/\/+$/, '') || '/';
        if (needed === mp || needed.startsWith(mp === '/' ? '/' : `${mp}/`)) {
          throw new Error(`volume mount ${m.name} at ${m.mountPath} would hide ${needed}, which the process kubelet runs programs from`);
        }
      }
      const src = m.subPath ? join(base, m.subPath) : base;
      if (m.subPath && !existsSync(src)) mkdirSync(src, { recursive: true });
      const dir = statSync(src).isDirectory();
      const staged = `${stage}/${i}`;
      lines.push(dir ? `mkdir ${shellQuote(staged)}` : `touch ${shellQuote(staged)}`, `mount --bind ${shellQuote(src)} ${shellQuote(staged)}`);
      targets.push({ staged, target: m.mountPath, dir, readOnly: m.readOnly === true });
    });
    const shadowsStage = (t: string): boolean => stage === t || stage.startsWith(t.endsWith('/') ? t : `${t}/`);
    targets.sort((a, b) => Number(shadowsStage(a.target)) - Number(shadowsStage(b.target)) || a.target.split('/').length - b.target.split('/').length);
    for (const t of targets) {
      const target = shellQuote(t.target);
      if (t.dir) lines.push(`mkdir -p ${target}`);
      else lines.push(`mkdir -p "$(dirname ${target})"; [ -e ${target} ] || touch ${target}`);
      lines.push(`mount --bind ${shellQuote(t.staged)} ${target}`);
      if (t.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
    }
    if (run.spec.workingDir) lines.push(`mkdir -p ${shellQuote(run.spec.workingDir)}`, `cd ${shellQuote(run.spec.workingDir)}`);
    lines.push('exec "$@"');
    const path = join(this.dir, `run-${run.spec.name}.sh`);
    writeFileSync(path, lines.join('\n') + '\n', { mode: 0o755 });
    return path;
  }

  private baseEnv(): Record<string, string> {
    const hostname = this.pod.spec.hostname ?? this.pod.metadata.name;
    return {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      HOSTNAME: hostname,
      KUBERNETES_SERVICE_HOST: netConfig.hostIP,
      KUBERNETES_SERVICE_PORT: String(ports.apiserver),
      KUBERNETES_SERVICE_PORT_HTTPS: String(ports.apiserver),
      KUBERNETES_PORT: `tcp://${netConfig.hostIP}:${ports.apiserver}`,
      KUBERNETES_PORT_443_TCP: `tcp://${netConfig.hostIP}:${ports.apiserver}`,
      KUBERNETES_PORT_443_TCP_ADDR: netConfig.hostIP,
      KUBERNETES_PORT_443_TCP_PORT: String(ports.apiserver),
      KUBERNETES_PORT_443_TCP_PROTO: 'tcp',
    };
  }

  private podWithIPs(): KubeObject {
    return { ...this.pod, status: { ...this.pod.status, podIP: this.podIP, podIPs: [{ ip: this.podIP }], hostIP: netConfig.hostIP, hostIPs: [{ ip: netConfig.hostIP }] } };
  }

  /** Starts one process for `run` and resolves with its exit code. */
  private async launch(run: Run): Promise<number> {
    const image = resolveImage(run.spec.image ?? '');
    if (!image) {
      run.state = { waiting: { reason: 'ErrImagePull', message: `image ${run.spec.image} is not in the e2e image table` } };
      this.scheduleStatus();
      await sleep(5000);
      return 1;
    }
    let env: Record<string, string>;
    let wrapper: string;
    for (;;) {
      try {
        env = await containerEnv(this.host.client, this.podWithIPs(), run.spec, this.baseEnv());
        wrapper = this.wrapperScript(run);
        break;
      } catch (e) {
        if (this.stopped) return 1;
        run.state = { waiting: { reason: 'CreateContainerConfigError', message: (e as Error).message } };
        this.scheduleStatus();
        await sleep(2000);
      }
    }
    const argv = containerArgv(image, run.spec.command, run.spec.args).map((a) => expand(a, env));
    if (argv.length === 0) {
      run.state = { waiting: { reason: 'CreateContainerError', message: 'no command' } };
      this.scheduleStatus();
      await sleep(5000);
      return 1;
    }
    const logPath = join(this.dir, 'logs', `${run.spec.name}.log`);
    const fd = openSync(logPath, 'a');
    const proc = spawn('ip', ['netns', 'exec', this.netns, '/bin/sh', wrapper, ...argv], {
      env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    run.proc = proc;
    run.killReason = undefined;
    const startedAt = now();
    run.startedAtMs = Date.now();
    run.state = { running: { startedAt } };
    run.ready = false;
    run.started = false;
    this.log(`started ${run.spec.name} (pid ${proc.pid}): ${argv.join(' ')}`);
    run.exited = new Promise<number>((resolve) => {
      proc.on('error', (e) => {
        this.log(`${run.spec.name}: spawn error ${e.message}`);
        resolve(128);
      });
      proc.on('exit', (code, signal) => {
        const exitCode = code ?? 128 + (signal ? (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }) as Record<string, number>)[signal] ?? 1 : 1);
        resolve(exitCode);
      });
    });
    if (!run.init) this.startProbes(run);
    else run.started = true;
    this.scheduleStatus();
    const code = await run.exited;
    this.clearProbes(run);
    run.proc = undefined;
    run.ready = false;
    run.started = false;
    run.state = {
      terminated: {
        exitCode: code,
        reason: run.killReason ?? (code === 0 ? 'Completed' : 'Error'),
        startedAt,
        finishedAt: now(),
      },
    };
    this.log(`${run.spec.name} exited with ${code}`);
    this.scheduleStatus();
    this.host.changed();
    return code;
  }

  private clearProbes(run: Run): void {
    for (const t of run.probeTimers) clearTimeout(t);
    run.probeTimers = [];
  }

  private startProbes(run: Run): void {
    const spec = run.spec;
    const proc = run.proc;
    const alive = (): boolean => run.proc === proc && !this.stopped;
    const loop = (probe: Probe, onResult: (ok: boolean, successes: number, failures: number) => boolean | void): void => {
      let successes = 0;
      let failures = 0;
      const tick = async (): Promise<void> => {
        if (!alive()) return;
        const ok = await this.probe(run, probe);
        if (!alive()) return;
        if (ok) {
          successes++;
          failures = 0;
        } else {
          failures++;
          successes = 0;
        }
        if (onResult(ok, successes, failures) === false) return;
        run.probeTimers.push(setTimeout(() => void tick(), (probe.periodSeconds ?? 10) * 1000));
      };
      run.probeTimers.push(setTimeout(() => void tick(), (probe.initialDelaySeconds ?? 0) * 1000));
    };
    const afterStartup = (): void => {
      run.started = true;
      this.scheduleStatus();
      if (spec.readinessProbe) {
        loop(spec.readinessProbe, (_ok, s, f) => {
          const p = spec.readinessProbe;
          if (s >= (p.successThreshold ?? 1) && !run.ready) this.setReady(run, true);
          if (f >= (p.failureThreshold ?? 3) && run.ready) this.setReady(run, false);
        });
      } else this.setReady(run, true);
      if (spec.livenessProbe) {
        loop(spec.livenessProbe, (_ok, _s, f) => {
          if (f >= (spec.livenessProbe.failureThreshold ?? 3)) {
            this.log(`${spec.name}: liveness probe failed ${f} times, restarting`);
            run.killReason = 'Error';
            void this.killRun(run, spec.livenessProbe.terminationGracePeriodSeconds ?? this.pod.spec.terminationGracePeriodSeconds ?? 30);
            return false;
          }
        });
      }
    };
    if (spec.startupProbe) {
      loop(spec.startupProbe, (ok, _s, f) => {
        if (ok) {
          afterStartup();
          return false;
        }
        if (f >= (spec.startupProbe.failureThreshold ?? 3)) {
          this.log(`${spec.name}: startup probe failed ${f} times, restarting`);
          void this.killRun(run, this.pod.spec.terminationGracePeriodSeconds ?? 30);
          return false;
        }
      });
    } else afterStartup();
  }

  private setReady(run: Run, ready: boolean): void {
    run.ready = ready;
    this.scheduleStatus();
    this.host.changed();
  }

  private resolvePort(run: Run, port: number | string): number {
    if (typeof port === 'number') return port;
    if (/^\d+$/.test(port)) return Number(port);
    for (const c of this.pod.spec.containers ?? []) {
      for (const p of c.ports ?? []) if (p.name === port) return p.containerPort;
    }
    throw new Error(`container ${run.spec.name}: unknown named port ${port}`);
  }

  /** Runs one probe; httpGet/tcpSocket connect to the pod IP over the pod network, exec runs inside the pod. */
  private async probe(run: Run, probe: Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    try {
      if (probe.httpGet) {
        const g = probe.httpGet;
        const port = this.resolvePort(run, g.port);
        const mod = g.scheme === 'HTTPS' ? https : http;
        const headers: Record<string, string> = {};
        for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
        return await new Promise<boolean>((resolve) => {
          const req = mod.request(
            { host: g.host ?? this.podIP, port, path: g.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false },
            (res) => {
              res.resume();
              resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
            },
          );
          req.on('timeout', () => req.destroy(new Error('timeout')));
          req.on('error', () => resolve(false));
          req.end();
        });
      }
      if (probe.tcpSocket || probe.grpc) {
        const port = this.resolvePort(run, (probe.tcpSocket ?? probe.grpc).port);
        return await new Promise<boolean>((resolve) => {
          const sock = net.connect({ host: probe.tcpSocket?.host ?? this.podIP, port, timeout: timeoutMs });
          sock.on('connect', () => {
            sock.destroy();
            resolve(true);
          });
          sock.on('timeout', () => {
            sock.destroy();
            resolve(false);
          });
          sock.on('error', () => resolve(false));
        });
      }
      if (probe.exec) {
        const code = await this.execInPod(run, probe.exec.command ?? [], timeoutMs);
        return code === 0;
      }
    } catch (e) {
      this.log(`${run.spec.name}: probe error ${(e as Error).message}`);
    }
    return false;
  }

  /** Runs a command inside the pod's network and mount setup, as a probe would. */
  async execInPod(run: Run, command: string[], timeoutMs: number): Promise<number> {
    const env = await containerEnv(this.host.client, this.podWithIPs(), run.spec, this.baseEnv());
    const wrapper = join(this.dir, `run-${run.spec.name}.sh`);
    return new Promise<number>((resolve) => {
      const p = spawn('ip', ['netns', 'exec', this.netns, '/bin/sh', wrapper, ...command], { env, stdio: 'ignore', detached: true });
      const timer = setTimeout(() => {
        try {
          process.kill(-(p.pid ?? 0), 'SIGKILL');
        } catch {
          // gone
        }
      }, timeoutMs);
      p.on('error', () => resolve(1));
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve(code ?? 1);
      });
    });
  }

  /** SIGTERM to the container's process group, SIGKILL after `graceSeconds`. */
  private async killRun(run: Run, graceSeconds: number): Promise<void> {
    const proc = run.proc;
    if (!proc || proc.pid === undefined || !run.exited) return;
    const signal = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-(proc.pid as number), sig);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const exited = await Promise.race([run.exited.then(() => true), sleep(graceSeconds * 1000).then(() => false)]);
    if (!exited) {
      signal('SIGKILL');
      await run.exited;
    }
  }

  /** Graceful termination for a pod with a deletionTimestamp; removes the pod object afterwards. */
  async terminate(graceSeconds: number, deleteObject: boolean): Promise<void> {
    if (this.terminating) return this.terminated;
    this.terminating = true;
    this.stopped = true;
    this.log(`terminating (grace ${graceSeconds}s)`);
    const deadline = Date.now() + graceSeconds * 1000;
    await Promise.all(
      [...this.runs.values()].map((run) => {
        this.clearProbes(run);
        return this.killRun(run, Math.max(0, (deadline - Date.now()) / 1000));
      }),
    );
    this.teardown();
    if (deleteObject) {
      try {
        await this.host.client.delete(`/api/v1/namespaces/${this.pod.metadata.namespace}/pods/${this.pod.metadata.name}`, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid: this.uid },
        });
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409)) this.log(`delete: ${(e as Error).message}`);
      }
    }
    this.resolveTerminated();
  }

  private teardown(): void {
    if (this.statusTimer) clearTimeout(this.statusTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    deletePodNetwork(this.netns);
    this.host.releaseIP(this.uid);
    rmSync(this.dir, { recursive: true, force: true });
    // Staging mount points (empty on the host: the mounts were private to the pod).
    rmSync(`/run/kve2e/${this.uid}`, { recursive: true, force: true });
    this.networkReady = false;
    this.host.changed();
  }

  // ---- status ----

  private scheduleStatus(): void {
    if (this.terminating || this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.statusChain = this.statusChain.then(() => this.pushStatus()).catch((e) => this.log(`status: ${(e as Error).message}`));
    }, 50);
  }

  private condition(type: string, ok: boolean, reason?: string): Record<string, unknown> {
    const status = ok ? 'True' : 'False';
    const prev = this.lastTransition.get(type);
    const time = prev && prev.status === status ? prev.time : now();
    this.lastTransition.set(type, { status, time });
    const c: Record<string, unknown> = { type, status, lastProbeTime: null, lastTransitionTime: time };
    if (!ok && reason) c.reason = reason;
    return c;
  }

  private containerStatus(run: Run): Record<string, unknown> {
    return {
      name: run.spec.name,
      image: run.spec.image,
      imageID: `kvorum-e2e://${run.spec.image}`,
      containerID: run.proc?.pid ? `process://${run.proc.pid}` : undefined,
      ready: run.ready || (run.init && 'terminated' in run.state && run.state.terminated.exitCode === 0),
      started: run.init ? undefined : run.started,
      restartCount: run.restartCount,
      state: run.state,
      lastState: run.lastState,
    };
  }

  buildStatus(): Record<string, unknown> {
    const regular = [...this.runs.values()].filter((r) => !r.init);
    const inits = [...this.runs.values()].filter((r) => r.init);
    const containersReady = this.phase === 'Running' && regular.every((r) => r.ready);
    const finished = this.phase === 'Succeeded' || this.phase === 'Failed';
    const status: Record<string, unknown> = {
      phase: this.phase,
      hostIP: netConfig.hostIP,
      hostIPs: [{ ip: netConfig.hostIP }],
      startTime: this.startTime,
      conditions: [
        this.condition('PodReadyToStartContainers', this.networkReady),
        this.condition('Initialized', this.initDone, 'ContainersNotInitialized'),
        this.condition('Ready', containersReady && !finished, finished ? 'PodCompleted' : 'ContainersNotReady'),
        this.condition('ContainersReady', containersReady && !finished, finished ? 'PodCompleted' : 'ContainersNotReady'),
        this.condition('PodScheduled', true),
      ],
      containerStatuses: regular.map((r) => this.containerStatus(r)),
      qosClass: this.pod.status?.qosClass,
    };
    if (inits.length > 0) status.initContainerStatuses = inits.map((r) => this.containerStatus(r));
    if (this.podIP) {
      status.podIP = this.podIP;
      status.podIPs = [{ ip: this.podIP }];
    }
    return status;
  }

  private async pushStatus(): Promise<void> {
    if (this.terminating) return;
    const status = this.buildStatus();
    try {
      const updated = await this.host.client.mergePatch(`/api/v1/namespaces/${this.pod.metadata.namespace}/pods/${this.pod.metadata.name}/status`, { status });
      if (updated.metadata.uid === this.uid) this.pod = updated;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return;
      throw e;
    }
  }
}
