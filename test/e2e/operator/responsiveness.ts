// Watches how responsive members stay while something heavy runs on them.
// Two measures per member, on its metrics port (plain HTTP, pod IP):
// - the event loop's longest delay: prom-client's
//   nodejs_eventloop_lag_max_seconds is the maximum of perf_hooks'
//   monitorEventLoopDelay since the previous scrape (the histogram is reset
//   on each one; nothing else scrapes the members in the test environment),
//   so the maximum over back-to-back scrapes is the longest stall;
// - the slowest /livez answer seen by a client probing every `probeMs`.
import { MEMBER_PORTS, PROBE_PATHS } from '../../../contract/index.js';

export interface MemberResponsiveness {
  /** Longest event-loop delay, ms. */
  maxStallMs: number;
  /** Slowest /livez round trip, ms (a failed probe counts as its timeout). */
  maxProbeMs: number;
  scrapes: number;
  probes: number;
  failedProbes: number;
}

const metricValue = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop());
};

/** Reads a metric (first sample) from a member's /metrics. */
export async function scrapeMetric(podIP: string, name: string, timeoutMs = 5000): Promise<number | undefined> {
  const text = await (await fetch(`http://${podIP}:${MEMBER_PORTS.metrics.port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })).text();
  return metricValue(text, name);
}

export class ResponsivenessMonitor {
  private readonly results = new Map<string, MemberResponsiveness>();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];

  /** `members`: pod name -> pod IP. */
  constructor(
    private readonly members: Map<string, string>,
    private readonly opts: { scrapeMs?: number; probeMs?: number; probeTimeoutMs?: number } = {},
  ) {}

  /** Starts measuring; the first scrape resets each member's histogram, so earlier stalls do not count. */
  async start(): Promise<this> {
    for (const [name, ip] of this.members) {
      await scrapeMetric(ip, 'nodejs_eventloop_lag_max_seconds');
      const r: MemberResponsiveness = { maxStallMs: 0, maxProbeMs: 0, scrapes: 0, probes: 0, failedProbes: 0 };
      this.results.set(name, r);
      this.loops.push(this.scrapeLoop(ip, r), this.probeLoop(ip, r));
    }
    return this;
  }

  async stop(): Promise<Map<string, MemberResponsiveness>> {
    this.stopped = true;
    await Promise.all(this.loops);
    return this.results;
  }

  private async scrapeLoop(ip: string, r: MemberResponsiveness): Promise<void> {
    // One last scrape after stop() so the tail end is counted too.
    for (let last = false; !last; ) {
      last = this.stopped;
      await sleep(this.opts.scrapeMs ?? 1000);
      const max = await scrapeMetric(ip, 'nodejs_eventloop_lag_max_seconds').catch(() => undefined);
      if (max === undefined || Number.isNaN(max)) continue;
      r.scrapes++;
      r.maxStallMs = Math.max(r.maxStallMs, max * 1000);
    }
  }

  private async probeLoop(ip: string, r: MemberResponsiveness): Promise<void> {
    const timeoutMs = this.opts.probeTimeoutMs ?? 5000;
    while (!this.stopped) {
      const t0 = performance.now();
      const ok = await fetch(`http://${ip}:${MEMBER_PORTS.metrics.port}${PROBE_PATHS.liveness}`, { signal: AbortSignal.timeout(timeoutMs) }).then(
        async (res) => (await res.arrayBuffer(), res.ok),
        () => false,
      );
      r.probes++;
      if (!ok) r.failedProbes++;
      r.maxProbeMs = Math.max(r.maxProbeMs, ok ? performance.now() - t0 : timeoutMs);
      await sleep(this.opts.probeMs ?? 50);
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
