// `npm run chaos -- --duration 2m --seed S [--seeds S1,S2,...] [--members 3|5]
//   [--faults all|kill,kill-all,stop,...] [--profile all|kv,lease,kubernetes]
//   [--results DIR] [--clients N] [--keys N] [--watchers N]`:
// one chaos run against real member processes (see harness.ts). Prints the
// seed first, the fault timeline as it goes and a summary at the end; exits
// 1 when the run found a violation. Results stay in the results folder
// (by default under the system's temporary directory).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runChaos, type ChaosResult } from './harness.js';
import { FAULT_HELP, FAULT_KINDS, parseFaults } from './faults.js';
import { parseProfiles } from './profiles.js';

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`bad duration ${JSON.stringify(text)} (examples: 90s, 2m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const arg = argv[i]!;
  if (arg.includes('=')) return arg.slice(arg.indexOf('=') + 1);
  const value = argv[i + 1];
  if (value === undefined) throw new Error(`--${name} needs a value`);
  return value;
}

function count(argv: string[], name: string): number | undefined {
  const text = option(argv, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a whole number, not ${JSON.stringify(text)}`);
  return n;
}

const HELP = `npm run chaos -- [options]
  --duration D      length of each run (90s, 5m, 1h; default 2m); with --seeds, split evenly over the seeds
  --seed S          the seed (default: a random one, printed)
  --seeds S1,S2,..  several runs one after another, one per seed; exit 1 if any has a violation
  --members N       3 (default) or 5 member processes
  --faults LIST     all (default), none, or a comma-separated list of:
${FAULT_KINDS.map((k) => `                      ${k.padEnd(12)}${FAULT_HELP[k]}`).join('\n')}
  --profile LIST    traffic: all (default: the clients dealt out in turn among the three), or a
                    comma-separated list of:
                      kv          gets, puts, deletes and compare-and-swap txns on k0..k<keys-1>
                      lease       grants, puts with a lease, revokes, keep-alives, expiry (TTL 2-3 s)
                      kubernetes  mod_revision-guarded create/update/delete txns on /registry/..,
                                  paginated lists, informers (list, then watch from its revision + 1)
  --clients N       concurrent clients, all profiles together (default 6)
  --keys N          size of the kv profile's key space (default 8)
  --watchers N      resuming watch streams (default 2)
  --client-workers N  each member serves its clients from N worker processes (default 0)
  --results DIR     where the history, fault timeline and member logs go
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const durationMs = parseDuration(option(argv, 'duration') ?? '2m');
  const seedsText = option(argv, 'seeds');
  const seedText = option(argv, 'seed');
  const seeds = (seedsText ?? seedText ?? String(Math.floor(Math.random() * 2 ** 31))).split(',').map((t) => Number(t.trim()));
  for (const s of seeds) if (!Number.isSafeInteger(s)) throw new Error(`bad seed in ${JSON.stringify(seedsText ?? seedText)}`);
  const members = count(argv, 'members');
  if (members !== undefined && members < 1) throw new Error('--members needs at least 1');
  const faults = parseFaults(option(argv, 'faults') ?? 'all');
  const profiles = parseProfiles(option(argv, 'profile') ?? 'all');
  const results = option(argv, 'results');
  const perRunMs = Math.round(durationMs / seeds.length);
  const failed: number[] = [];
  const lines: string[] = [];
  for (const seed of seeds) {
    const base = results ?? join(tmpdir(), 'kvorum-chaos', `${new Date().toISOString().replace(/[:.]/g, '-')}-seed-${seed}`);
    const resultsDir = resolve(seeds.length > 1 && results !== undefined ? join(base, `seed-${seed}`) : base);
    process.stdout.write(`chaos: seed ${seed}, duration ${perRunMs / 1000}s, ${members ?? 3} members${clientWorkersText(argv)}, faults ${faults.join(',') || 'none'}, profiles ${profiles.join(',')}, results ${resultsDir}\n`);
    const clients = count(argv, 'clients');
    const keys = count(argv, 'keys');
    const watchers = count(argv, 'watchers');
    const clientWorkers = count(argv, 'client-workers');
    const result = await runChaos({
      durationMs: perRunMs,
      seed,
      resultsDir,
      faults,
      profiles,
      ...(members !== undefined && { members }),
      ...(clients !== undefined && { clients }),
      ...(keys !== undefined && { keys }),
      ...(watchers !== undefined && { watchers }),
      ...(clientWorkers !== undefined && { clientWorkers }),
      log: (line) => process.stdout.write(`  ${line}\n`),
    });
    const line = summaryLine(result);
    lines.push(line);
    process.stdout.write(`${line}\n`);
    for (const v of result.violations) process.stdout.write(`VIOLATION: ${v.slice(0, 4000)}\n`);
    process.stdout.write(`chaos: results in ${resultsDir}${result.violations.length > 0 ? ` (replay with --seed ${seed})` : ''}\n`);
    if (result.violations.length > 0) failed.push(seed);
  }
  if (seeds.length > 1) {
    process.stdout.write(`chaos: ${seeds.length} runs:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    process.stdout.write(failed.length === 0 ? 'chaos: no violations\n' : `chaos: violations with seeds ${failed.join(', ')}\n`);
  }
  return failed.length === 0 ? 0 : 1;
}

function clientWorkersText(argv: string[]): string {
  const n = count(argv, 'client-workers');
  return n ? ` with ${n} client workers each` : '';
}

function summaryLine(result: ChaosResult): string {
  const kinds = Object.entries(result.faultsByKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return (
    `chaos: seed ${result.seed}: ${result.operations} operations (${result.acknowledged} acknowledged, ${result.unknown} unknown outcome), ` +
    `${result.faults} faults (${kinds || 'none'}), ${result.watchEvents} watch events and ${result.progressNotifications} progress notifications checked, ` +
    `linearizability ${result.linearizability.result} (checked in ${result.checkMs} ms), ${result.violations.length} violations\n  ` +
    Object.entries(result.profiles)
      .map(([p, r]) => `${p}: ${r.clients} clients, ${r.operations} operations (${r.unknown} unknown), ${r.result} in ${r.checkMs} ms`)
      .join('; ') +
    (result.informerLists > 0 ? `; ${result.informerLists} informer lists checked against their watches` : '')
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 2;
  },
);
