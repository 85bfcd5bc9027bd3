{{/*
Object names are fixed, not derived from the release name: Keyless's code,
`keyless uninstall` and the admission policies refer to them, and one
Keyless serves a whole cluster.
*/}}

{{/* Labels of every object. */}}
{{- define "keyless.labels" -}}
app.kubernetes.io/name: keyless
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The pods' labels, which the Deployment, Services, PDB and NetworkPolicy select. */}}
{{- define "keyless.selectorLabels" -}}
app.kubernetes.io/name: keyless
{{- end }}

{{/* The username of Keyless's ServiceAccount, as the API server sees it. */}}
{{- define "keyless.username" -}}
system:serviceaccount:{{ .Release.Namespace }}:keyless
{{- end }}

{{/* The image reference: by digest when one is given. */}}
{{- define "keyless.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end }}
{{- end }}

{{/*
The `keyless serve` flags the values set, one "--flag=value" per line; a
value left empty is left out, so Keyless's own default applies.
*/}}
{{- define "keyless.args" -}}
{{- $v := .Values -}}
{{- $flags := list
  (list "cluster-name" $v.clusterName)
  (list "aws-region" $v.aws.region)
  (list "aws-account-id" $v.aws.accountId)
  (list "aws-endpoint" $v.aws.endpoint)
  (list "aws-qps" $v.aws.qps)
  (list "azure-subscription-id" $v.azure.subscriptionId)
  (list "azure-oidc-issuer-url" $v.azure.oidcIssuerURL)
  (list "azure-tenant-id" $v.azure.tenantId)
  (list "azure-resource-group" $v.azure.resourceGroup)
  (list "azure-endpoint" $v.azure.endpoint)
  (list "azure-authority-host" $v.azure.authorityHost)
  (list "azure-qps" $v.azure.qps)
  (list "gcp-workload-pool" $v.gcp.workloadPool)
  (list "gcp-endpoint" $v.gcp.endpoint)
  (list "gcp-qps" $v.gcp.qps)
  (list "gke-node-selector" $v.gcp.gkeNodeSelector)
  (list "cloud-timeout" $v.cloudTimeout)
  (list "resync-period" $v.resyncPeriod)
  (list "workers" $v.workers)
  (list "restart-workloads" $v.restartWorkloads)
  (list "default-service-account" $v.defaultServiceAccount)
  (list "kube-api-qps" $v.kubeAPI.qps)
  (list "kube-api-burst" $v.kubeAPI.burst)
  (list "leader-election-lease-duration" $v.leaderElection.leaseDuration)
  (list "log-level" $v.logging.level)
  (list "log-format" $v.logging.format)
  (list "tls-min-version" $v.webhook.tlsMinVersion)
  (list "policy-reload-interval" $v.policyReloadInterval)
-}}
{{- range $flags }}
{{- $value := index . 1 }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
- {{ printf "--%s=%v" (index . 0) $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/* keyless.restarts is "true" unless restartWorkloads is false: then Keyless patches no workload. */}}
{{- define "keyless.restarts" -}}
{{- if ne (toString .Values.restartWorkloads) "false" }}true{{ end -}}
{{- end }}
