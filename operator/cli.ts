// `kvorum operator`: flags and environment (as the Helm chart sets it), then
// run until SIGTERM/SIGINT.
import { DEFAULT_LEASE_NAME, OPERATOR_ENV, OPERATOR_HEALTH_PORT } from './api/index.js';
import { Operator, type OperatorOptions } from './manager.js';
import { createLogger } from './runtime/logger.js';

const HELP = `usage: kvorum operator [flags]

Reconciles KVCluster resources. Flags override the environment the Helm chart sets:
  --kubeconfig PATH          kubeconfig file (default: in-cluster, then $KUBECONFIG / ~/.kube/config)
  --namespace NS             watch only this namespace (repeatable; also --namespaces a,b)   [${OPERATOR_ENV.watchNamespaces}]
  --metrics-address ADDR     host:port of /metrics, /healthz, /readyz (default :${OPERATOR_HEALTH_PORT})  [${OPERATOR_ENV.metricsAddress}]
  --leader-elect[=BOOL]      take part in leader election on a Lease (default false)        [${OPERATOR_ENV.leaderElect}]
  --lease-name NAME          Lease name (default ${DEFAULT_LEASE_NAME})                         [${OPERATOR_ENV.leaseName}]
  --lease-namespace NS       Lease namespace (default: the pod's namespace, else default)  [${OPERATOR_ENV.podNamespace}]
  --node-image-repository R  member image repository when a KVCluster has no spec.image    [${OPERATOR_ENV.nodeImageRepository}]
  --member-address dns|pod-ip  how to reach members (pod-ip: operator outside the cluster network, TLS Disabled clusters only)
  --log-level LEVEL          fatal, error, warn, info, debug, trace (default info)          [${OPERATOR_ENV.logLevel}]
`;

export class UsageError extends Error {}

const truthy = (v: string | undefined): boolean => v !== undefined && ['1', 'true', 't', 'yes', ''].includes(v.toLowerCase());
const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export interface ParsedOperatorArgs {
  options: OperatorOptions;
  logLevel: string;
}

export function parseOperatorArgs(args: string[], env: NodeJS.ProcessEnv): ParsedOperatorArgs | 'help' {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-h' || a === '--help') return 'help';
    const m = /^--?([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new UsageError(`unexpected argument "${a}"`);
    const name = m[1]!;
    let value = m[2];
    if (value === undefined && name !== 'leader-elect') {
      value = args[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (!['kubeconfig', 'namespace', 'namespaces', 'metrics-address', 'leader-elect', 'lease-name', 'lease-namespace', 'node-image-repository', 'member-address', 'log-level'].includes(name)) {
      throw new UsageError(`unknown flag --${name}`);
    }
    flags.set(name, [...(flags.get(name) ?? []), value ?? 'true']);
  }
  const last = (n: string): string | undefined => flags.get(n)?.at(-1);
  const namespaces = flags.has('namespace') || flags.has('namespaces') ? [...(flags.get('namespace') ?? []), ...(flags.get('namespaces') ?? []).flatMap(list)] : list(env[OPERATOR_ENV.watchNamespaces]);
  const memberAddress = last('member-address') ?? 'dns';
  if (memberAddress !== 'dns' && memberAddress !== 'pod-ip') throw new UsageError('--member-address must be dns or pod-ip');
  const leaderElectRaw = last('leader-elect') ?? env[OPERATOR_ENV.leaderElect];
  const nodeImageRepository = last('node-image-repository') ?? env[OPERATOR_ENV.nodeImageRepository];
  return {
    logLevel: last('log-level') ?? env[OPERATOR_ENV.logLevel] ?? 'info',
    options: {
      ...(last('kubeconfig') && { kubeconfig: last('kubeconfig') }),
      namespaces: [...new Set(namespaces)],
      metricsAddress: last('metrics-address') ?? (env[OPERATOR_ENV.metricsAddress] || `:${OPERATOR_HEALTH_PORT}`),
      leaderElect: leaderElectRaw !== undefined && leaderElectRaw !== '' ? truthy(leaderElectRaw) : false,
      leaseName: last('lease-name') ?? (env[OPERATOR_ENV.leaseName] || DEFAULT_LEASE_NAME),
      leaseNamespace: last('lease-namespace') ?? (env[OPERATOR_ENV.podNamespace] || 'default'),
      ...(env[OPERATOR_ENV.podName] && { identity: env[OPERATOR_ENV.podName] }),
      reconciler: { ...(nodeImageRepository && { nodeImageRepository }), memberAddress },
    },
  };
}

export async function runOperator(args: string[]): Promise<number> {
  let parsed: ParsedOperatorArgs | 'help';
  try {
    parsed = parseOperatorArgs(args, process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`kvorum operator: ${err.message}\n\n${HELP}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const log = createLogger(parsed.logLevel);
  let exitCode = 0;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  const operator: Operator = new Operator(parsed.options, log, (why) => {
    // Lost leadership: stop acting at once; the Deployment restarts us as a standby.
    log.error({ why }, 'fatal');
    exitCode = 1;
    void operator.stop().finally(resolveDone);
  });
  const onSignal = (sig: string): void => {
    log.info({ signal: sig }, 'shutting down');
    void operator.stop().finally(resolveDone);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  try {
    await operator.start();
  } catch (err) {
    log.fatal({ err }, 'operator failed to start');
    await operator.stop().catch(() => {});
    return 1;
  }
  await done;
  return exitCode;
}
