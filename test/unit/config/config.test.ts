import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_QUOTA_BACKEND_BYTES, envNameFor, nodeHelp, parseAuthToken, parseNodeConfig } from '../../../node/config.js';

const noEnv: Record<string, string | undefined> = {};

function fails(argv: string[], pattern: RegExp, env: Record<string, string | undefined> = noEnv): void {
  assert.throws(
    () => parseNodeConfig(argv, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** A valid three-member setup for m1, as flags. */
const threeMembers = [
  '--name=m1',
  '--initial-advertise-peer-urls=http://m1:2380',
  '--initial-cluster=m1=http://m1:2380,m2=http://m2:2380,m3=http://m3:2380',
];

describe('parseNodeConfig defaults', () => {
  it("uses etcd's defaults with no flags and no environment", () => {
    const cfg = parseNodeConfig([], noEnv);
    assert.equal(cfg.name, 'default');
    assert.equal(cfg.dataDir, 'default.etcd');
    assert.deepEqual(
      cfg.listenClientUrls.map((u) => u.href),
      ['http://localhost:2379/'],
    );
    assert.deepEqual(cfg.advertiseClientUrls, ['http://localhost:2379']);
    assert.deepEqual(
      cfg.listenPeerUrls.map((u) => u.href),
      ['http://localhost:2380/'],
    );
    assert.deepEqual(cfg.initialAdvertisePeerUrls, ['http://localhost:2380']);
    assert.deepEqual(cfg.initialCluster, [{ name: 'default', peerUrls: ['http://localhost:2380'] }]);
    assert.equal(cfg.initialClusterState, 'new');
    assert.equal(cfg.initialClusterToken, 'etcd-cluster');
    assert.deepEqual(cfg.listenMetricsUrls, []);
    assert.equal(cfg.snapshotCount, 100_000);
    assert.equal(cfg.heartbeatMs, 100);
    assert.equal(cfg.electionMs, 1000);
    assert.equal(cfg.quotaBackendBytes, 2 * 1024 * 1024 * 1024);
    assert.equal(cfg.maxRequestBytes, 1572864);
    assert.equal(cfg.maxTxnOps, 128);
    assert.equal(cfg.snapshotCatchUpEntries, 5000);
    assert.equal(cfg.maxSnapshots, 2, 'each snapshot holds the whole store: the newest and one fallback');
    assert.equal(cfg.requestTimeoutMs, 7000);
    assert.equal(cfg.logLevel, 'info');
    assert.equal(cfg.clientTls, undefined);
    assert.equal(cfg.peerTls, undefined);
    assert.deepEqual(cfg.warnings, []);
  });

  it('derives the data dir and the initial cluster from the name and the advertised peer URLs', () => {
    const cfg = parseNodeConfig(['--name', 'alpha', '--initial-advertise-peer-urls', 'http://10.0.0.1:2380,http://alpha:2380'], noEnv);
    assert.equal(cfg.dataDir, 'alpha.etcd');
    assert.deepEqual(cfg.initialCluster, [{ name: 'alpha', peerUrls: ['http://10.0.0.1:2380', 'http://alpha:2380'] }]);
  });

  it('treats a zero quota as the default quota', () => {
    assert.equal(parseNodeConfig(['--quota-backend-bytes=0'], noEnv).quotaBackendBytes, DEFAULT_QUOTA_BACKEND_BYTES);
  });
});

describe('parseNodeConfig flags', () => {
  it('parses every flag', () => {
    const cfg = parseNodeConfig(
      [
        '--name=m1',
        '--data-dir=/var/lib/kvorum',
        '--listen-client-urls=https://0.0.0.0:2379,https://127.0.0.1:12379',
        '--advertise-client-urls=https://m1.svc:2379',
        '--listen-peer-urls=https://0.0.0.0:2380',
        '--initial-advertise-peer-urls=https://m1.svc:2380',
        '--initial-cluster=m1=https://m1.svc:2380,m2=https://m2.svc:2380',
        '--initial-cluster-state=existing',
        '--initial-cluster-token=tok',
        '--listen-metrics-urls=http://0.0.0.0:2381',
        '--snapshot-count=500',
        '--heartbeat-interval=50',
        '--election-timeout=600',
        '--quota-backend-bytes=1048576',
        '--max-request-bytes=4096',
        '--max-txn-ops=16',
        '--experimental-snapshot-catchup-entries=77',
        '--max-snapshots=4',
        '--cert-file=/tls/server.crt',
        '--key-file=/tls/server.key',
        '--trusted-ca-file=/tls/ca.crt',
        '--client-cert-auth',
        '--peer-cert-file=/tls/peer.crt',
        '--peer-key-file=/tls/peer.key',
        '--peer-trusted-ca-file=/tls/peer-ca.crt',
        '--peer-client-cert-auth=true',
        '--log-level=debug',
      ],
      noEnv,
    );
    assert.equal(cfg.name, 'm1');
    assert.equal(cfg.dataDir, '/var/lib/kvorum');
    assert.deepEqual(
      cfg.listenClientUrls.map((u) => u.href),
      ['https://0.0.0.0:2379/', 'https://127.0.0.1:12379/'],
    );
    assert.deepEqual(cfg.advertiseClientUrls, ['https://m1.svc:2379']);
    assert.deepEqual(
      cfg.listenPeerUrls.map((u) => u.href),
      ['https://0.0.0.0:2380/'],
    );
    assert.deepEqual(cfg.initialAdvertisePeerUrls, ['https://m1.svc:2380']);
    assert.deepEqual(cfg.initialCluster, [
      { name: 'm1', peerUrls: ['https://m1.svc:2380'] },
      { name: 'm2', peerUrls: ['https://m2.svc:2380'] },
    ]);
    assert.equal(cfg.initialClusterState, 'existing');
    assert.equal(cfg.initialClusterToken, 'tok');
    assert.deepEqual(
      cfg.listenMetricsUrls.map((u) => u.href),
      ['http://0.0.0.0:2381/'],
    );
    assert.equal(cfg.snapshotCount, 500);
    assert.equal(cfg.heartbeatMs, 50);
    assert.equal(cfg.electionMs, 600);
    assert.equal(cfg.quotaBackendBytes, 1048576);
    assert.equal(cfg.maxRequestBytes, 4096);
    assert.equal(cfg.maxTxnOps, 16);
    assert.equal(cfg.snapshotCatchUpEntries, 77);
    assert.equal(cfg.maxSnapshots, 4);
    assert.deepEqual(cfg.clientTls, { certFile: '/tls/server.crt', keyFile: '/tls/server.key', trustedCaFile: '/tls/ca.crt', clientCertAuth: true });
    assert.deepEqual(cfg.peerTls, { certFile: '/tls/peer.crt', keyFile: '/tls/peer.key', trustedCaFile: '/tls/peer-ca.crt', clientCertAuth: true });
    assert.equal(cfg.logLevel, 'debug');
  });

  it('accepts "--flag value", a single dash, and the newer catch-up flag name', () => {
    const cfg = parseNodeConfig(['--name', 'x', '-data-dir', '/d', '--snapshot-catchup-entries', '9', '--log-level', 'warn'], noEnv);
    assert.equal(cfg.name, 'x');
    assert.equal(cfg.dataDir, '/d');
    assert.equal(cfg.snapshotCatchUpEntries, 9);
    assert.equal(cfg.logLevel, 'warn');
  });

  it('reads boolean flags bare, as =true and as =false', () => {
    const tls = ['--cert-file=c', '--key-file=k', '--trusted-ca-file=ca'];
    assert.equal(parseNodeConfig([...tls, '--client-cert-auth'], noEnv).clientTls?.clientCertAuth, true);
    assert.equal(parseNodeConfig([...tls, '--client-cert-auth=true'], noEnv).clientTls?.clientCertAuth, true);
    assert.equal(parseNodeConfig([...tls, '--client-cert-auth=false'], noEnv).clientTls?.clientCertAuth, false);
    assert.equal(parseNodeConfig(tls, noEnv).clientTls?.clientCertAuth, false);
    // A bare boolean does not swallow the next argument.
    const cfg = parseNodeConfig([...tls, '--client-cert-auth', '--name', 'after'], noEnv);
    assert.equal(cfg.clientTls?.clientCertAuth, true);
    assert.equal(cfg.name, 'after');
  });

  it('lets a name repeat in --initial-cluster to give it several URLs', () => {
    const cfg = parseNodeConfig(
      ['--name=a', '--initial-advertise-peer-urls=http://a1:2380,http://a2:2380', '--initial-cluster=a=http://a1:2380,b=http://b:2380,a=http://a2:2380'],
      noEnv,
    );
    assert.deepEqual(cfg.initialCluster, [
      { name: 'a', peerUrls: ['http://a1:2380', 'http://a2:2380'] },
      { name: 'b', peerUrls: ['http://b:2380'] },
    ]);
  });

  it('compares own peer URLs with the initial cluster as sets, after normalising case and trailing slashes', () => {
    const cfg = parseNodeConfig(
      ['--name=a', '--initial-advertise-peer-urls=HTTP://A2:2380/,http://a1:2380', '--initial-cluster=a=http://a1:2380,a=http://a2:2380'],
      noEnv,
    );
    assert.deepEqual(cfg.initialAdvertisePeerUrls, ['http://a2:2380', 'http://a1:2380']);
  });

  it('takes the last value of a repeated flag', () => {
    assert.equal(parseNodeConfig(['--snapshot-count=1', '--snapshot-count=2'], noEnv).snapshotCount, 2);
  });

  it('accepts IPv6 literals', () => {
    const cfg = parseNodeConfig(['--listen-client-urls=http://[::1]:2379', '--advertise-client-urls=http://[::1]:2379'], noEnv);
    assert.equal(cfg.listenClientUrls[0]!.hostname, '[::1]');
    assert.equal(cfg.listenClientUrls[0]!.port, '2379');
  });

  it('does not check the initial cluster of a joining member against its own URLs', () => {
    const cfg = parseNodeConfig(['--name=m4', '--initial-cluster-state=existing', '--initial-cluster=m1=http://m1:2380'], noEnv);
    assert.equal(cfg.initialClusterState, 'existing');
  });
});

describe('parseNodeConfig environment', () => {
  it('maps flag names to ETCD_ variables', () => {
    assert.equal(envNameFor('initial-cluster-state'), 'ETCD_INITIAL_CLUSTER_STATE');
    assert.equal(envNameFor('name'), 'ETCD_NAME');
  });

  it('reads every setting from ETCD_* variables', () => {
    const cfg = parseNodeConfig([], {
      ETCD_NAME: 'm2',
      ETCD_DATA_DIR: '/data',
      ETCD_LISTEN_CLIENT_URLS: 'https://0.0.0.0:2379',
      ETCD_ADVERTISE_CLIENT_URLS: 'https://m2:2379',
      ETCD_LISTEN_PEER_URLS: 'http://0.0.0.0:2380',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://m2:2380',
      ETCD_INITIAL_CLUSTER: 'm1=http://m1:2380,m2=http://m2:2380',
      ETCD_INITIAL_CLUSTER_STATE: 'new',
      ETCD_INITIAL_CLUSTER_TOKEN: 'envtok',
      ETCD_LISTEN_METRICS_URLS: 'http://0.0.0.0:9000',
      ETCD_SNAPSHOT_COUNT: '42',
      ETCD_HEARTBEAT_INTERVAL: '20',
      ETCD_ELECTION_TIMEOUT: '200',
      ETCD_QUOTA_BACKEND_BYTES: '123456',
      ETCD_MAX_REQUEST_BYTES: '2048',
      ETCD_MAX_TXN_OPS: '7',
      ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES: '11',
      ETCD_CERT_FILE: '/c',
      ETCD_KEY_FILE: '/k',
      ETCD_TRUSTED_CA_FILE: '/ca',
      ETCD_CLIENT_CERT_AUTH: 'true',
      ETCD_PEER_CERT_FILE: '/pc',
      ETCD_PEER_KEY_FILE: '/pk',
      ETCD_LOG_LEVEL: 'error',
    });
    assert.equal(cfg.name, 'm2');
    assert.equal(cfg.dataDir, '/data');
    assert.equal(cfg.listenClientUrls[0]!.href, 'https://0.0.0.0:2379/');
    assert.deepEqual(cfg.advertiseClientUrls, ['https://m2:2379']);
    assert.equal(cfg.listenPeerUrls[0]!.href, 'http://0.0.0.0:2380/');
    assert.deepEqual(cfg.initialAdvertisePeerUrls, ['http://m2:2380']);
    assert.equal(cfg.initialCluster.length, 2);
    assert.equal(cfg.initialClusterToken, 'envtok');
    assert.equal(cfg.listenMetricsUrls[0]!.port, '9000');
    assert.equal(cfg.snapshotCount, 42);
    assert.equal(cfg.heartbeatMs, 20);
    assert.equal(cfg.electionMs, 200);
    assert.equal(cfg.quotaBackendBytes, 123456);
    assert.equal(cfg.maxRequestBytes, 2048);
    assert.equal(cfg.maxTxnOps, 7);
    assert.equal(cfg.snapshotCatchUpEntries, 11);
    assert.deepEqual(cfg.clientTls, { certFile: '/c', keyFile: '/k', trustedCaFile: '/ca', clientCertAuth: true });
    assert.deepEqual(cfg.peerTls, { certFile: '/pc', keyFile: '/pk', clientCertAuth: false });
    assert.equal(cfg.logLevel, 'error');
    assert.deepEqual(cfg.warnings, []);
  });

  it('lets the command line win over the environment, with a warning', () => {
    const cfg = parseNodeConfig(['--snapshot-count=5'], { ETCD_SNAPSHOT_COUNT: '6', ETCD_MAX_TXN_OPS: '9' });
    assert.equal(cfg.snapshotCount, 5);
    assert.equal(cfg.maxTxnOps, 9);
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0]!, /--snapshot-count.*ETCD_SNAPSHOT_COUNT/);
  });

  it('ignores empty variables and warns about unknown ETCD_ ones', () => {
    const cfg = parseNodeConfig([], { ETCD_NAME: '', ETCD_ENABLE_PPROF: 'true', PATH: '/bin', ETCDCTL_API: '3' });
    assert.equal(cfg.name, 'default');
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0]!, /ETCD_ENABLE_PPROF/);
  });

  it('names the variable in errors about its value', () => {
    fails([], /ETCD_SNAPSHOT_COUNT.*"many" is not a whole number/, { ETCD_SNAPSHOT_COUNT: 'many' });
    fails([], /ETCD_CLIENT_CERT_AUTH.*"yes" is not a boolean/, { ETCD_CLIENT_CERT_AUTH: 'yes' });
  });
});

describe('parseNodeConfig errors', () => {
  it('rejects unknown flags and names them', () => {
    fails(['--no-such-flag=1'], /unknown flag --no-such-flag/);
    fails(['--data-dri=/x'], /unknown flag --data-dri \(did you mean --data-dir\?\)/);
  });

  it('rejects positional arguments and a flag missing its value', () => {
    fails(['stray'], /unexpected argument "stray"/);
    fails(['--name'], /flag --name needs a value/);
  });

  it('rejects non-numeric and out-of-range numbers', () => {
    fails(['--snapshot-count=ten'], /--snapshot-count: "ten" is not a whole number/);
    fails(['--heartbeat-interval=-5'], /--heartbeat-interval: "-5" is not a whole number/);
    fails(['--max-txn-ops=0'], /--max-txn-ops: must be at least 1/);
    fails(['--max-snapshots=0'], /--max-snapshots: must be at least 1/);
    fails(['--quota-backend-bytes=99999999999999999999'], /--quota-backend-bytes: .* is too large/);
    fails(['--election-timeout=1.5'], /--election-timeout: "1.5" is not a whole number/);
  });

  it('rejects malformed URLs', () => {
    fails(['--listen-peer-urls=localhost:2380'], /--listen-peer-urls: "localhost:2380" is not a URL/);
    fails(['--listen-peer-urls=ftp://x:21'], /--listen-peer-urls: .*scheme "ftp"/);
    fails(['--listen-peer-urls=http://x'], /--listen-peer-urls: .*needs a host and a port/);
    fails(['--listen-peer-urls=http://x:2380/path'], /--listen-peer-urls: .*must not have a path/);
    fails(['--listen-peer-urls=http://x:99999'], /--listen-peer-urls: .*outside 1-65535/);
    fails(['--listen-peer-urls='], /--listen-peer-urls: at least one URL is required/);
    fails(['--listen-metrics-urls=unix://sock:1'], /--listen-metrics-urls: .*only http and https/);
  });

  it('rejects a bad --initial-cluster', () => {
    fails(['--initial-cluster=http://m1:2380'], /--initial-cluster: "http:\/\/m1:2380" is not of the form name=url/);
    fails(['--initial-cluster=m1'], /--initial-cluster: "m1" is not of the form name=url/);
    fails(['--initial-cluster=default=notaurl'], /--initial-cluster \(member "default"\): "notaurl" is not a URL/);
    fails(['--initial-cluster=default=http://localhost:2380,b=http://localhost:2380'], /URL http:\/\/localhost:2380 is given for both "default" and "b"/);
    fails(['--initial-cluster=,'], /--initial-cluster: no members given/);
  });

  it('rejects an election timeout below five heartbeats, and above 50s', () => {
    fails(['--heartbeat-interval=100', '--election-timeout=499'], /--election-timeout \(499ms\) must be at least 5 times --heartbeat-interval \(100ms\)/);
    fails(['--heartbeat-interval=300'], /--election-timeout \(1000ms\) must be at least 5 times --heartbeat-interval \(300ms\)/);
    fails(['--heartbeat-interval=1000', '--election-timeout=60000'], /--election-timeout \(60000ms\) is too long/);
    assert.equal(parseNodeConfig(['--heartbeat-interval=100', '--election-timeout=500'], noEnv).electionMs, 500);
  });

  it('requires this member in --initial-cluster for a new cluster, with its advertised peer URLs', () => {
    fails(['--name=m9', ...threeMembers.slice(1)], /--initial-cluster has no entry for this member's name "m9"/);
    fails(['--name=m1', '--initial-advertise-peer-urls=http://other:2380', threeMembers[2]!], /gives "m1" the peer URLs http:\/\/m1:2380, but --initial-advertise-peer-urls is http:\/\/other:2380/);
    fails(['--name=m1'], /ETCD_INITIAL_CLUSTER has no entry for this member's name "m1"/, { ETCD_INITIAL_CLUSTER: 'x=http://x:2380' });
    assert.equal(parseNodeConfig(threeMembers, noEnv).initialCluster.length, 3);
  });

  it('rejects bad enumerations', () => {
    fails(['--initial-cluster-state=old'], /--initial-cluster-state: must be "new" or "existing", not "old"/);
    fails(['--log-level=loud'], /--log-level: unknown log level "loud"/);
    fails(['--client-cert-auth=maybe'], /--client-cert-auth: "maybe" is not a boolean/);
  });

  it('requires --advertise-client-urls when --listen-client-urls is set, like etcd', () => {
    fails(['--listen-client-urls=http://0.0.0.0:2379'], /--advertise-client-urls .* is required when --listen-client-urls is set/);
  });

  it('checks that TLS settings come in usable combinations', () => {
    fails(['--cert-file=/c'], /--cert-file is set but --key-file is not/);
    fails(['--peer-key-file=/k'], /--peer-key-file is set but --peer-cert-file is not/);
    fails(['--client-cert-auth'], /--client-cert-auth needs --cert-file and --key-file/);
    fails(['--peer-cert-file=/c', '--peer-key-file=/k', '--peer-client-cert-auth'], /--peer-client-cert-auth needs --peer-trusted-ca-file/);
    fails(['--trusted-ca-file=/ca'], /--trusted-ca-file needs --cert-file and --key-file/);
    fails(['--peer-cert-file=/c', '--peer-key-file=/k', '--peer-cert-allowed-cn=x'], /--peer-cert-allowed-cn needs --peer-client-cert-auth/);
  });

  it('takes etcd\'s --peer-cert-allowed-cn and --peer-cert-allowed-hostname (comma-separated lists), also from ETCD_*', () => {
    const peer = ['--peer-cert-file=/c', '--peer-key-file=/k', '--peer-trusted-ca-file=/ca', '--peer-client-cert-auth'];
    const cfg = parseNodeConfig([...peer, '--peer-cert-allowed-cn=a-peer, b-peer', '--peer-cert-allowed-hostname=m1.example'], noEnv);
    assert.deepEqual(cfg.peerTls?.allowedCommonNames, ['a-peer', 'b-peer']);
    assert.deepEqual(cfg.peerTls?.allowedHostnames, ['m1.example']);
    const fromEnv = parseNodeConfig(peer, { ETCD_PEER_CERT_ALLOWED_CN: 'c-peer' });
    assert.deepEqual(fromEnv.peerTls?.allowedCommonNames, ['c-peer']);
    assert.equal(fromEnv.peerTls?.allowedHostnames, undefined);
  });

  it('requires certificates for https listen URLs', () => {
    fails(['--listen-client-urls=https://0.0.0.0:2379', '--advertise-client-urls=https://x:2379'], /--listen-client-urls has the https URL https:\/\/0.0.0.0:2379, which needs --cert-file and --key-file/);
    fails(['--listen-peer-urls=https://0.0.0.0:2380'], /--listen-peer-urls has the https URL .* needs --peer-cert-file and --peer-key-file/);
    fails(['--listen-metrics-urls=https://0.0.0.0:2381'], /--listen-metrics-urls has the https URL/);
    // Client certificates do not cover the peer side.
    fails(['--cert-file=/c', '--key-file=/k', '--listen-peer-urls=https://0.0.0.0:2380'], /--listen-peer-urls has the https URL/);
  });

  it('rejects an empty name', () => {
    fails(['--name='], /--name: the member name must not be empty/);
  });
});

describe('nodeHelp', () => {
  it('lists every flag with its default', () => {
    const help = nodeHelp();
    for (const flag of ['--name', '--data-dir', '--initial-cluster-state', '--peer-client-cert-auth', '--experimental-snapshot-catchup-entries', '--log-level']) {
      assert.ok(help.includes(flag), `help lacks ${flag}`);
    }
    assert.match(help, /--election-timeout <value> +.*\(default 1000\)/);
    assert.match(help, /ETCD_/);
  });
});

describe('auth flags', () => {
  it('default to simple tokens for 300 s, and take etcd\'s --auth-token jwt options, --auth-token-ttl and --bcrypt-cost', () => {
    const cfg = parseNodeConfig([], noEnv);
    assert.deepEqual(cfg.auth, { token: { kind: 'simple' }, tokenTtlMs: 300_000, bcryptCost: 10 });
    const jwt = parseNodeConfig(['--auth-token=jwt,pub-key=/k/pub.pem,priv-key=/k/priv.pem,sign-method=RS256,ttl=10m', '--auth-token-ttl=60', '--bcrypt-cost=12'], noEnv);
    assert.deepEqual(jwt.auth, { token: { kind: 'jwt', signMethod: 'RS256', pubKeyFile: '/k/pub.pem', privKeyFile: '/k/priv.pem', ttlMs: 600_000 }, tokenTtlMs: 60_000, bcryptCost: 12 });
    assert.deepEqual(parseNodeConfig([], { ETCD_AUTH_TOKEN: 'jwt,pub-key=/p,sign-method=ES256' }).auth.token, { kind: 'jwt', signMethod: 'ES256', pubKeyFile: '/p', ttlMs: 300_000 });
  });

  it('refuses what etcd refuses, saying why', () => {
    fails(['--auth-token=opaque'], /unknown token type "opaque"/);
    fails(['--auth-token=jwt,pub-key=/p,sign-method=HS1'], /sign-method must be one of/);
    fails(['--auth-token=jwt,sign-method=RS256'], /needs pub-key/);
    fails(['--auth-token=jwt,pub-key=/p,sign-method=RS256,colour=red'], /unknown jwt option "colour"/);
    fails(['--bcrypt-cost=40'], /between 4 and 31/);
    assert.throws(() => parseAuthToken('simple,x', '--auth-token'), /unknown token type/);
  });
});
