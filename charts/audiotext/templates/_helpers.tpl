{{/* The chart name, or nameOverride. */}}
{{- define "audiotext.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The base of every resource name: fullnameOverride, else the release name (plus the chart name
unless the release name already contains it). Kept to 50 characters so suffixes fit in 63.
*/}}
{{- define "audiotext.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* name-version, for the helm.sh/chart label. */}}
{{- define "audiotext.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the pods of one component: call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "audiotext.selectorLabels" -}}
app.kubernetes.io/name: {{ include "audiotext.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Every label of a resource: call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "audiotext.labels" -}}
helm.sh/chart: {{ include "audiotext.chart" .ctx }}
{{ include "audiotext.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: audiotext
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* repository:tag, or repository@digest: call with an image map. */}}
{{- define "audiotext.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/* The namespace of the TranscriptionJob resources and worker Jobs. */}}
{{- define "audiotext.jobNamespace" -}}
{{- default .Release.Namespace .Values.jobNamespace -}}
{{- end -}}

{{- define "audiotext.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (printf "%s-gateway" (include "audiotext.fullname" .)) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (printf "%s-operator" (include "audiotext.fullname" .)) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret whose keys become the env of the gateway, the operator and the migration Job. */}}
{{- define "audiotext.secretName" -}}
{{- default (include "audiotext.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* The Secret whose keys become the worker container's env (AUDIOTEXT_WORKER_SECRET). */}}
{{- define "audiotext.workerSecretName" -}}
{{- if .Values.worker.secret.existingSecret -}}
{{- .Values.worker.secret.existingSecret -}}
{{- else -}}
{{- default (printf "%s-worker" (include "audiotext.fullname" .)) .Values.worker.secret.name -}}
{{- end -}}
{{- end -}}

{{/* The database URL from values: the external one, else the dev PostgreSQL's, else empty. */}}
{{- define "audiotext.databaseUrl" -}}
{{- if .Values.database.url -}}
{{- .Values.database.url -}}
{{- else if .Values.dev.postgresql.enabled -}}
{{- $pg := .Values.dev.postgresql -}}
{{- printf "postgresql+psycopg://%s:%s@%s-postgresql.%s.svc:5432/%s" (urlquery $pg.username) (urlquery $pg.password) (include "audiotext.fullname" .) .Release.Namespace $pg.database -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.redisUrl" -}}
{{- if .Values.redis.url -}}
{{- .Values.redis.url -}}
{{- else if .Values.dev.redis.enabled -}}
{{- printf "redis://%s-redis.%s.svc:6379/0" (include "audiotext.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.storageUrl" -}}
{{- if .Values.s3.storageUrl -}}
{{- .Values.s3.storageUrl -}}
{{- else if .Values.dev.minio.enabled -}}
{{- printf "s3://%s/jobs" .Values.dev.minio.bucket -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.s3Endpoint" -}}
{{- if .Values.s3.endpoint -}}
{{- .Values.s3.endpoint -}}
{{- else if and .Values.dev.minio.enabled (not .Values.s3.storageUrl) -}}
{{- printf "http://%s-minio.%s.svc:9000" (include "audiotext.fullname" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.s3AccessKeyId" -}}
{{- if .Values.s3.accessKeyId -}}
{{- .Values.s3.accessKeyId -}}
{{- else if and .Values.dev.minio.enabled (not .Values.s3.storageUrl) -}}
{{- .Values.dev.minio.rootUser -}}
{{- end -}}
{{- end -}}

{{- define "audiotext.s3SecretAccessKey" -}}
{{- if .Values.s3.secretAccessKey -}}
{{- .Values.s3.secretAccessKey -}}
{{- else if and .Values.dev.minio.enabled (not .Values.s3.storageUrl) -}}
{{- .Values.dev.minio.rootPassword -}}
{{- end -}}
{{- end -}}

{{/*
The secret settings as env-var-named keys (only those that are set), shared by the chart's
Secret, the migration hook's Secret and the worker Secret.
*/}}
{{- define "audiotext.secretData" -}}
{{- $data := dict -}}
{{- with include "audiotext.databaseUrl" . }}{{ $_ := set $data "AUDIOTEXT_DATABASE_URL" . }}{{ end -}}
{{- with include "audiotext.redisUrl" . }}{{ $_ := set $data "AUDIOTEXT_REDIS_URL" . }}{{ end -}}
{{- with include "audiotext.s3AccessKeyId" . }}{{ $_ := set $data "AWS_ACCESS_KEY_ID" . }}{{ end -}}
{{- with include "audiotext.s3SecretAccessKey" . }}{{ $_ := set $data "AWS_SECRET_ACCESS_KEY" . }}{{ end -}}
{{- with .Values.webhookSecret }}{{ $_ := set $data "AUDIOTEXT_WEBHOOK_SECRET" . }}{{ end -}}
{{- /* One signing key for every gateway replica (the web app's audio links): the one given,
       else one derived from the S3 secret, which the chart holds already. */ -}}
{{- $s3Secret := include "audiotext.s3SecretAccessKey" . -}}
{{- if .Values.secretKey }}{{ $_ := set $data "AUDIOTEXT_SECRET_KEY" .Values.secretKey }}
{{- else if $s3Secret }}{{ $_ := set $data "AUDIOTEXT_SECRET_KEY" (printf "audiotext-links:%s:%s" .Release.Namespace $s3Secret | sha256sum) }}{{ end -}}
{{- range $key, $value := $data }}
{{ $key }}: {{ $value | b64enc | quote }}
{{- end -}}
{{- end -}}

{{/* Whether database, event bus and storage are all configured ("true" or ""). */}}
{{- define "audiotext.configured" -}}
{{- if .Values.existingSecret -}}
true
{{- else if and (include "audiotext.databaseUrl" .) (include "audiotext.redisUrl" .) (include "audiotext.storageUrl" .) -}}
true
{{- end -}}
{{- end -}}

{{/* Pod-level security context (restricted). */}}
{{- define "audiotext.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{/* Container-level security context (restricted). */}}
{{- define "audiotext.securityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* Checksums that roll the pods when their configuration or secrets change. */}}
{{- define "audiotext.checksums" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{- define "audiotext.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Checks that values fit together; JSON schema cannot say these. */}}
{{- define "audiotext.validate" -}}
{{- if .Values.existingSecret -}}
{{- if or .Values.database.url .Values.redis.url .Values.s3.accessKeyId .Values.s3.secretAccessKey .Values.webhookSecret -}}
{{- fail "existingSecret is set: leave database.url, redis.url, s3.accessKeyId, s3.secretAccessKey and webhookSecret empty (put them in that Secret)" -}}
{{- end -}}
{{- if and .Values.worker.secret.create (not .Values.worker.secret.existingSecret) -}}
{{- fail "existingSecret is set: the chart cannot build the worker Secret from it; set worker.secret.existingSecret (a Secret with AWS_*, AUDIOTEXT_DATABASE_URL, AUDIOTEXT_REDIS_URL, AUDIOTEXT_STORAGE_URL) or worker.secret.create=false" -}}
{{- end -}}
{{- end -}}
{{- end -}}
