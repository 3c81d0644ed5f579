// The object store credentials a backup or restore names: keys of a Secret
// in the cluster's namespace.
import type { CredentialsSecretRef } from '../api/index.js';
import type { KubeClient, KubeObject } from '../kube/client.js';
import { RESOURCES } from '../kube/resources.js';
import { secretText, type Secret } from '../tls/names.js';
import type { S3Credentials } from './object-store.js';
import { BackupError } from './take-backup.js';

export const DEFAULT_ACCESS_KEY_ID_KEY = 'AWS_ACCESS_KEY_ID';
export const DEFAULT_SECRET_ACCESS_KEY_KEY = 'AWS_SECRET_ACCESS_KEY';

export async function readCredentials(kube: Pick<KubeClient, 'get'>, namespace: string, ref: CredentialsSecretRef | undefined): Promise<S3Credentials> {
  if (!ref) throw new BackupError('CredentialsMissing', 'no credentialsSecret: set it on the KVBackup (or its schedule) or in the cluster\'s spec.backup', false);
  const secret = await kube.get<KubeObject>(RESOURCES.secret, namespace, ref.name);
  if (!secret) throw new BackupError('CredentialsMissing', `credentials Secret ${namespace}/${ref.name} not found`, true);
  const idKey = ref.accessKeyIdKey ?? DEFAULT_ACCESS_KEY_ID_KEY;
  const secretKey = ref.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY;
  const accessKeyId = secretText(secret as Secret, idKey);
  const secretAccessKey = secretText(secret as Secret, secretKey);
  if (!accessKeyId || !secretAccessKey) {
    const missing = [!accessKeyId && idKey, !secretAccessKey && secretKey].filter(Boolean).join(' and ');
    throw new BackupError('CredentialsMissing', `credentials Secret ${namespace}/${ref.name} has no ${missing}`, false);
  }
  return { accessKeyId, secretAccessKey };
}
