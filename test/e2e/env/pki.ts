// Certificates for the e2e control plane, made with the openssl command line:
// one CA, the API server's serving certificate, client certificates for each
// component and the admin, and the service-account token signing key pair.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { net, paths, clusterDomain } from './config.js';

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface ClientIdentity {
  file: string;
  cn: string;
  org?: string;
}

export const identities: Record<string, ClientIdentity> = {
  admin: { file: 'admin', cn: 'kubernetes-admin', org: 'system:masters' },
  controllerManager: { file: 'controller-manager', cn: 'system:kube-controller-manager' },
  scheduler: { file: 'scheduler', cn: 'system:kube-scheduler' },
  // The process kubelet also provisions volumes, so it acts as a cluster admin.
  kubelet: { file: 'kubelet', cn: 'kvorum-e2e-kubelet', org: 'system:masters' },
  apiserverKubeletClient: { file: 'apiserver-kubelet-client', cn: 'kube-apiserver-kubelet-client', org: 'system:masters' },
};

function sign(name: string, subject: string, ext: string): void {
  const dir = paths.pki;
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  openssl([
    'x509', '-req', '-in', csr, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial',
    '-days', '3650', '-sha256', '-extfile', extFile, '-out', join(dir, `${name}.crt`),
  ]);
}

/** Creates whatever is missing under the PKI directory. */
export function ensurePki(): void {
  const dir = paths.pki;
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'ca.crt'))) {
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'ca.key')]);
    openssl([
      'req', '-x509', '-new', '-key', join(dir, 'ca.key'), '-subj', '/CN=kvorum-e2e-ca', '-days', '3650', '-sha256',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      '-out', join(dir, 'ca.crt'),
    ]);
  }
  if (!existsSync(join(dir, 'apiserver.crt'))) {
    const names = ['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${clusterDomain}`, 'localhost'];
    const ips = [net.hostIP, '10.96.0.1', '127.0.0.1'];
    const san = [...names.map((n) => `DNS:${n}`), ...ips.map((i) => `IP:${i}`)].join(',');
    sign('apiserver', '/CN=kube-apiserver', `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  }
  for (const id of Object.values(identities)) {
    if (existsSync(join(dir, `${id.file}.crt`))) continue;
    const subject = id.org ? `/O=${id.org}/CN=${id.cn}` : `/CN=${id.cn}`;
    sign(id.file, subject, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  }
  if (!existsSync(join(dir, 'sa.key'))) {
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'sa.key')]);
    openssl(['pkey', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
  }
}

/** Writes a kubeconfig for one client identity, referencing the PKI files by path. */
export function writeKubeconfig(path: string, id: ClientIdentity, server: string): void {
  const dir = paths.pki;
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: kvorum-e2e',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${join(dir, 'ca.crt')}`,
    'users:',
    `- name: ${id.cn}`,
    '  user:',
    `    client-certificate: ${join(dir, `${id.file}.crt`)}`,
    `    client-key: ${join(dir, `${id.file}.key`)}`,
    'contexts:',
    '- name: kvorum-e2e',
    '  context:',
    '    cluster: kvorum-e2e',
    `    user: ${id.cn}`,
    'current-context: kvorum-e2e',
    '',
  ].join('\n');
  writeFileSync(path, text, { mode: 0o600 });
}
