{{/* Names, labels and the pieces every workload of the chart shares. */}}

{{- define "brp-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "brp-broker.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "brp-broker.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "brp-broker.labels" -}}
helm.sh/chart: {{ include "brp-broker.chart" . }}
{{ include "brp-broker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: brp-broker
{{- end }}

{{/* The broker pods; Jobs carry the same name and instance with another component. */}}
{{- define "brp-broker.selectorLabels" -}}
app.kubernetes.io/name: {{ include "brp-broker.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "brp-broker.brokerSelectorLabels" -}}
{{ include "brp-broker.selectorLabels" . }}
app.kubernetes.io/component: broker
{{- end }}

{{- define "brp-broker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "brp-broker.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "brp-broker.image" -}}
{{- $repository := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* Where things are mounted inside the pods. */}}
{{- define "brp-broker.configPath" -}}/etc/brp-broker/broker.toml{{- end }}
{{- define "brp-broker.identityDir" -}}/var/run/secrets/brp/identities/{{ . }}{{- end }}
{{- define "brp-broker.identityCaDir" -}}/etc/brp-broker/ca/{{ . }}{{- end }}
{{- define "brp-broker.clientSecretDir" -}}/var/run/secrets/brp/clients/{{ . }}{{- end }}
{{- define "brp-broker.idpCaDir" -}}/etc/brp-broker/idp-ca{{- end }}
{{- define "brp-broker.signingKeyDir" -}}/var/run/secrets/brp/protocol-signing{{- end }}
{{- define "brp-broker.signingKeyFile" -}}{{ include "brp-broker.signingKeyDir" . }}/signing.jwk{{- end }}
{{- define "brp-broker.anchorDir" -}}/var/lib/brp-broker/anchors{{- end }}

{{/* The Secret holding the owner URL. */}}
{{- define "brp-broker.ownerSecret" -}}
{{- .Values.database.ownerExistingSecret | default .Values.database.existingSecret }}
{{- end }}

{{/* Replicas that may run at once: each enforces 1/N of a limit while Redis is unreachable. */}}
{{- define "brp-broker.maxReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.maxReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/* The settings file: the operator's settings plus what the chart decides (mount paths). */}}
{{- define "brp-broker.settings" -}}
{{- $settings := deepCopy (.Values.settings | default dict) }}
{{- if not (hasKey $settings "ratelimit_replicas") }}
{{- $_ := set $settings "ratelimit_replicas" (int (include "brp-broker.maxReplicas" .)) }}
{{- end }}
{{- /* SIGTERM comes after the preStop pause: the broker drains at once (shutdown_delay_seconds
     stays 0), and one worker per pod (workers stays 1): scale with replicas. */}}
{{- $_ := set $settings "shutdown_drain_seconds" (int .Values.shutdown.drainSeconds) }}
{{- $identities := list }}
{{- range .Values.identities }}
{{- $identity := dict "name" .name "oin" .oin }}
{{- $_ := set $identity "certificate" (printf "%s/%s" (include "brp-broker.identityDir" .name) (.certificateKey | default "tls.crt")) }}
{{- $_ := set $identity "private_key" (printf "%s/%s" (include "brp-broker.identityDir" .name) (.privateKeyKey | default "tls.key")) }}
{{- if .caBundle }}
{{- $_ := set $identity "ca_bundle" (printf "%s/%s" (include "brp-broker.identityCaDir" .name) .caBundle.key) }}
{{- end }}
{{- if .expiryWarningDays }}
{{- $_ := set $identity "expiry_warning_days" (int .expiryWarningDays) }}
{{- end }}
{{- $identities = append $identities $identity }}
{{- end }}
{{- if $identities }}
{{- $_ := set $settings "identities" $identities }}
{{- end }}
{{- if .Values.idpCaBundle.key }}
{{- $_ := set $settings "idp_ca_bundle" (printf "%s/%s" (include "brp-broker.idpCaDir" .) .Values.idpCaBundle.key) }}
{{- end }}
{{- toYaml $settings }}
{{- end }}

{{/* Checks across values that a JSON schema cannot express; a wrong one fails the render. */}}
{{- define "brp-broker.validate" -}}
{{- $drain := add .Values.shutdown.preStopSeconds .Values.shutdown.drainSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdown.preStopSeconds + shutdown.drainSeconds (%v)" .Values.terminationGracePeriodSeconds $drain) }}
{{- end }}
{{- $readyTimeout := .Values.settings.ready_timeout | default 2.0 }}
{{- if le (float64 .Values.readinessProbe.timeoutSeconds) (float64 $readyTimeout) }}
{{- fail (printf "readinessProbe.timeoutSeconds (%v) must exceed settings.ready_timeout (%v)" .Values.readinessProbe.timeoutSeconds $readyTimeout) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) must not exceed autoscaling.maxReplicas (%v)" .Values.autoscaling.minReplicas .Values.autoscaling.maxReplicas) }}
{{- end }}
{{- $names := list }}
{{- range .Values.identities }}
{{- if has .name $names }}
{{- fail (printf "identities: the name %q is used twice" .name) }}
{{- end }}
{{- $names = append $names .name }}
{{- end }}
{{- with .Values.settings.idp_identity }}
{{- if not (has . $names) }}
{{- fail (printf "settings.idp_identity (%q) names no identity in identities" .) }}
{{- end }}
{{- end }}
{{- include "brp-broker.validateProtocol" . }}
{{- end }}

{{/* Signed chain heads and anchors: what only makes sense together. */}}
{{- define "brp-broker.validateProtocol" -}}
{{- $signing := .Values.protocol.signing }}
{{- $anchors := .Values.protocol.anchors }}
{{- if $signing.existingSecret }}
{{- $unsigned := addf $signing.intervalSeconds $signing.heartbeatSeconds }}
{{- if ge (float64 $unsigned) 3600.0 }}
{{- fail (printf "protocol.signing.intervalSeconds + heartbeatSeconds (%v) must stay under 3600: `protocol verify --public-keys` fails a chain whose newest signature is older than its --max-unsigned-age (default 1h)" $unsigned) }}
{{- end }}
{{- if not .Values.podSecurityContext.fsGroup }}
{{- fail "protocol.signing.existingSecret: podSecurityContext.fsGroup must be set; the key file (mode 0400, owned by root) is readable by the broker through that group only" }}
{{- end }}
{{- end }}
{{- if $anchors.storage }}
{{- if not $signing.existingSecret }}
{{- fail "protocol.anchors.storage needs protocol.signing.existingSecret: without a signing key nothing is signed, so nothing would be anchored" }}
{{- end }}
{{- if and (eq $anchors.storage "persistentVolumeClaim") (not $anchors.existingClaim) }}
{{- fail "protocol.anchors.storage persistentVolumeClaim needs protocol.anchors.existingClaim (a claim on storage the database administrator cannot write)" }}
{{- end }}
{{- if and (eq $anchors.storage "emptyDir") $anchors.existingClaim }}
{{- fail "protocol.anchors.existingClaim is set but storage is emptyDir: choose one" }}
{{- end }}
{{- end }}
{{- end }}

{{/* BROKER_PROTOCOL_* variables: the signing key's file, its rhythm, and each pod's anchor file
   (needs POD_NAME before it). Paths and numbers only: the key itself stays in its Secret. */}}
{{- define "brp-broker.protocolEnv" -}}
{{- with .Values.protocol.signing }}
{{- if .existingSecret }}
- name: BROKER_PROTOCOL_SIGNING_KEY_FILE
  value: {{ include "brp-broker.signingKeyFile" $ | quote }}
- name: BROKER_PROTOCOL_SIGNING_INTERVAL_SECONDS
  value: {{ include "brp-broker.toml.value" .intervalSeconds | quote }}
- name: BROKER_PROTOCOL_SIGNING_HEARTBEAT_SECONDS
  value: {{ include "brp-broker.toml.value" .heartbeatSeconds | quote }}
{{- end }}
{{- end }}
{{- if .Values.protocol.anchors.storage }}
- name: BROKER_PROTOCOL_ANCHOR_FILE
  value: "{{ include "brp-broker.anchorDir" . }}/$(POD_NAME).jsonl"
{{- end }}
{{- end }}

{{/* The hardened pod settings every pod of the chart shares. */}}
{{- define "brp-broker.podSecurity" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* BROKER_* variables from Secrets: the database URL a workload needs, Redis, the secret key. */}}
{{- define "brp-broker.secretEnv" -}}
{{- $ := .root }}
{{- if eq .database "runtime" }}
- name: BROKER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.database.existingSecret }}
      key: {{ $.Values.database.urlKey }}
{{- else }}
- name: BROKER_DATABASE_OWNER_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "brp-broker.ownerSecret" $ }}
      key: {{ $.Values.database.ownerUrlKey }}
{{- end }}
{{- if and .redis $.Values.redis.existingSecret }}
- name: BROKER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.redis.existingSecret }}
      key: {{ $.Values.redis.urlKey }}
{{- end }}
{{- if $.Values.secretKey.existingSecret }}
- name: BROKER_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.secretKey.existingSecret }}
      key: {{ $.Values.secretKey.key }}
{{- end }}
{{- end }}

{{/* A CA bundle volume from a ConfigMap ({configMap, key}) or a Secret ({secret, key}). */}}
{{- define "brp-broker.caVolume" -}}
{{- if .configMap }}
configMap:
  name: {{ .configMap }}
  items:
    - key: {{ .key }}
      path: {{ .key }}
{{- else }}
secret:
  secretName: {{ .secret }}
  items:
    - key: {{ .key }}
      path: {{ .key }}
{{- end }}
{{- end }}

{{/* The pod of a hook Job: the image, hardened like the broker, one command, the owner URL.
   It reads no settings file: the Jobs need nothing but the database (and the secret key). */}}
{{- define "brp-broker.jobPod" -}}
{{- $ := .root }}
metadata:
  labels:
    {{- include "brp-broker.labels" $ | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
  {{- with $.Values.jobs.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  restartPolicy: Never
  {{- include "brp-broker.podSecurity" $ | nindent 2 }}
  {{- with $.Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  containers:
    - name: {{ .component }}
      image: {{ include "brp-broker.image" $ | quote }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      env:
        {{- with $.Values.settings.log_level }}
        - name: BROKER_LOG_LEVEL
          value: {{ . | quote }}
        {{- end }}
        {{- include "brp-broker.secretEnv" (dict "root" $ "database" "owner" "redis" false) | trim | nindent 8 }}
      securityContext:
        {{- toYaml $.Values.securityContext | nindent 8 }}
      resources:
        {{- toYaml $.Values.jobs.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .extraMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $.Values.tmpSizeLimit }}
    {{- with .extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
