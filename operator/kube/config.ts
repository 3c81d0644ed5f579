// Where the operator's API credentials come from: an explicit kubeconfig
// file, the pod's service account (in-cluster), or the usual default lookup
// ($KUBECONFIG, ~/.kube/config). @kubernetes/client-node does the parsing and
// the authentication (client certificates, bearer tokens re-read from disk,
// exec plugins); the requests themselves are plain HTTPS (client.ts).
import { KubeConfig } from '@kubernetes/client-node';

export interface KubeConfigOptions {
  /** Path of a kubeconfig file; wins over everything else. */
  kubeconfig?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadKubeConfig(options: KubeConfigOptions = {}): KubeConfig {
  const env = options.env ?? process.env;
  const kc = new KubeConfig();
  if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
  else if (env.KUBECONFIG) kc.loadFromDefault();
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured (give --kubeconfig, set KUBECONFIG, or run in a pod)');
  return kc;
}
