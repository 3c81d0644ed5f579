// `npm run chaos -- --duration 2m --seed S [--results DIR] [--clients N] [--keys N]`:
// one chaos run against real member processes (see harness.ts). Prints the
// seed first, the fault timeline as it goes and a summary at the end; exits
// 1 when the run found a violation. Results stay in the results folder
// (by default under the system's temporary directory).
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runChaos } from './harness.js';

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

async function main(argv: string[]): Promise<number> {
  const durationMs = parseDuration(option(argv, 'duration') ?? '2m');
  const seedText = option(argv, 'seed');
  const seed = seedText === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(seedText);
  if (!Number.isSafeInteger(seed)) throw new Error(`bad seed ${JSON.stringify(seedText)}`);
  const resultsDir = resolve(option(argv, 'results') ?? join(tmpdir(), 'kvorum-chaos', `${new Date().toISOString().replace(/[:.]/g, '-')}-seed-${seed}`));
  const clients = option(argv, 'clients');
  const keys = option(argv, 'keys');
  process.stdout.write(`chaos: seed ${seed}, duration ${durationMs / 1000}s, results ${resultsDir}\n`);
  const result = await runChaos({
    durationMs,
    seed,
    resultsDir,
    ...(clients !== undefined && { clients: Number(clients) }),
    ...(keys !== undefined && { keys: Number(keys) }),
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  process.stdout.write(
    `chaos: seed ${seed}: ${result.operations} operations (${result.acknowledged} acknowledged, ${result.unknown} unknown outcome), ` +
      `${result.faults} faults, ${result.watchEvents} watch events and ${result.progressNotifications} progress notifications checked, linearizability ${result.linearizability.result} (checked in ${result.checkMs} ms), ${result.violations.length} violations\n`,
  );
  for (const v of result.violations) process.stdout.write(`VIOLATION: ${v.slice(0, 4000)}\n`);
  process.stdout.write(`chaos: results in ${resultsDir}${result.violations.length > 0 ? ` (replay with --seed ${seed})` : ''}\n`);
  return result.violations.length === 0 ? 0 : 1;
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
