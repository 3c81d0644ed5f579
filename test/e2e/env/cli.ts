// Entry point of `npm run e2e:up`, `npm run e2e:down` and `npm run test:e2e`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { compiledRoot, paths, stateDir } from './config.js';
import { down, up } from './cluster.js';

const command = process.argv[2];
// `up --store kvorum`: the same switch as KVORUM_E2E_STORE=kvorum (env/store.ts).
const storeFlag = process.argv.indexOf('--store');
if (storeFlag > 0) {
  process.env.KVORUM_E2E_STORE = process.argv[storeFlag + 1] ?? '';
  process.argv.splice(storeFlag, 2);
}
const apiserverTests = join(compiledRoot, '..', 'unit', 'operator', 'apiserver.test.js');

/** A failed start stops what it started, unless KVORUM_E2E_KEEP=1 asks to keep it for debugging. */
async function upOrCleanUp(): Promise<Awaited<ReturnType<typeof up>>> {
  try {
    return await up();
  } catch (e) {
    process.stderr.write(`[e2e] start failed; logs in ${paths.logs}\n`);
    if (process.env.KVORUM_E2E_KEEP !== '1') await down();
    throw e;
  }
}

async function main(): Promise<number> {
  if (command === 'up') {
    const r = await upOrCleanUp();
    process.stdout.write(`export KUBECONFIG=${paths.kubeconfig}\n`);
    process.stdout.write(`# ready in ${r.seconds.toFixed(1)}s; state in ${stateDir}; tools in ${paths.tools}\n`);
    return 0;
  }
  if (command === 'down') {
    await down();
    return 0;
  }
  if (command === 'test') {
    const r = await upOrCleanUp();
    process.stdout.write(`# e2e:up took ${r.seconds.toFixed(1)}s${r.built ? ' (including builds)' : ''}\n`);
    const filters = process.argv.slice(3);
    const files = readdirSync(compiledRoot)
      .filter((f) => f.endsWith('.test.js'))
      .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
      .sort()
      .map((f) => join(compiledRoot, f));
    // The CRD checks against a real API server, skipped by `npm test` for want of one.
    if (filters.length === 0 || filters.some((x) => 'apiserver.test.js'.includes(x))) files.push(apiserverTests);
    const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], {
      stdio: 'inherit',
      env: { ...process.env, KUBECONFIG: paths.kubeconfig, KVORUM_OPERATOR_TEST_KUBECONFIG: paths.kubeconfig },
    });
    if (process.env.KVORUM_E2E_KEEP === '1') process.stdout.write(`# KVORUM_E2E_KEEP=1: environment left running\n`);
    else await down();
    return result.status ?? 1;
  }
  process.stderr.write('usage: cli.js up|down|test [file-filter...]\n');
  return 2;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
