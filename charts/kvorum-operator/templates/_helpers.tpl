{{/* Name of the chart, overridable. */}}
{{- define "kvorum-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name, with the chart name appended unless it already contains it. */}}
{{- define "kvorum-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the operator's pods; they never change between upgrades. */}}
{{- define "kvorum-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvorum-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels on every object of the chart. */}}
{{- define "kvorum-operator.labels" -}}
{{ include "kvorum-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kvorum
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "kvorum-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kvorum-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kvorum-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The permissions the operator needs to reconcile KVClusters, KVBackups and
KVBackupSchedules. Used by the ClusterRole, or by a Role per namespace when
watchNamespaces is set. Lease permissions (leader election) are in a Role of
the release namespace, see rbac.yaml.
*/}}
{{- define "kvorum-operator.rules" -}}
- apiGroups: ["kvorum.io"]
  resources: ["kvclusters"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kvorum.io"]
  resources: ["kvbackups"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["kvorum.io"]
  resources: ["kvbackupschedules"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kvorum.io"]
  resources: ["kvrestores"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["kvorum.io"]
  resources: ["kvclusters/status", "kvbackups/status", "kvbackupschedules/status", "kvrestores/status"]
  verbs: ["get", "update", "patch"]
# blockOwnerDeletion on owner references needs update on the owner's finalizers
# (enforced where the OwnerReferencesPermissionEnforcement admission plugin runs).
- apiGroups: ["kvorum.io"]
  resources: ["kvclusters/finalizers", "kvbackups/finalizers"]
  verbs: ["update"]
# Owned objects are written by server-side apply (patch; create when missing)
# and removed by garbage collection through their owner references.
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["services", "configmaps", "secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Membership steps delete a member's pod or claim, and record the member ID on its claim.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "patch", "delete"]
# Growing members' volumes needs the StorageClass's allowVolumeExpansion.
- apiGroups: ["storage.k8s.io"]
  resources: ["storageclasses"]
  verbs: ["get"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
