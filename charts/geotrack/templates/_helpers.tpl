{{/*
Names. fullname follows the usual Helm convention so that a release called
"geotrack" yields "geotrack-<fn>" rather than "geotrack-geotrack-<fn>".
*/}}
{{- define "geotrack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "geotrack.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "geotrack.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "geotrack.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* geotrack.fnName: resource name of one function. Call with (list $ "fn"). */}}
{{- define "geotrack.fnName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "geotrack.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "geotrack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "geotrack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: geotrack
{{- end -}}

{{/* Selector labels of one function. Call with (list $ "fn"). */}}
{{- define "geotrack.fnSelector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "geotrack.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "geotrack.fnLabels" -}}
{{- $root := index . 0 -}}
{{ include "geotrack.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
geotrack.io/function: {{ index . 1 | quote }}
{{- end -}}

{{/* Image of one function: <registry>/<fn>:<tag>, the same scheme as stack.yml. */}}
{{- define "geotrack.image" -}}
{{- $root := index . 0 -}}
{{- printf "%s/%s:%s" $root.Values.image.registry (index . 1) (default $root.Chart.AppVersion $root.Values.image.tag) -}}
{{- end -}}

{{- define "geotrack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "geotrack.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The in-cluster URL of a function's HTTP endpoint for the current platform. */}}
{{- define "geotrack.fnURL" -}}
{{- $root := index . 0 -}}
{{- $fn := index . 1 -}}
{{- if eq $root.Values.platform "openfaas" -}}
{{- printf "%s/function/%s" (trimSuffix "/" $root.Values.openfaas.gateway) $fn -}}
{{- else if eq $root.Values.platform "knative" -}}
{{- printf "http://%s.%s.svc.cluster.local" (include "geotrack.fnName" (list $root $fn)) $root.Release.Namespace -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%d" (include "geotrack.fnName" (list $root $fn)) $root.Release.Namespace (int $root.Values.service.port) -}}
{{- end -}}
{{- end -}}

{{- define "geotrack.redisURL" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s-redis.%s.svc:6379/0" (include "geotrack.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "geotrack.s3Endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "http://%s-minio.%s.svc:9000" (include "geotrack.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.s3.endpoint -}}
{{- end -}}
{{- end -}}

{{/*
geotrack.fnEnv: the final environment map of one function, call with
(list $ "fn" $spec). Starts from the function's own env (kept in step with
stack.yml), then points REDIS_URL / S3_ENDPOINT at the in-chart or external
stores, then adds the release-wide extraEnv. Only keys a function already
declares are rewired, so a function never gets configuration it does not read.
*/}}
{{- define "geotrack.fnEnv" -}}
{{- $root := index . 0 -}}
{{- $fn := index . 1 -}}
{{- $spec := index . 2 -}}
{{- $env := deepCopy (default (dict) $spec.env) -}}
{{- if and (hasKey $env "REDIS_URL") (include "geotrack.redisURL" $root) -}}
{{- $_ := set $env "REDIS_URL" (include "geotrack.redisURL" $root) -}}
{{- end -}}
{{- if and (hasKey $env "S3_ENDPOINT") (include "geotrack.s3Endpoint" $root) -}}
{{- $_ := set $env "S3_ENDPOINT" (include "geotrack.s3Endpoint" $root) -}}
{{- end -}}
{{- if ne $root.Values.platform "openfaas" -}}
{{- /* EVENT_SINK in stack.yml names the OpenFaaS NATS bus; elsewhere events
     go to K_SINK (SinkBinding on Knative, a direct URL on Kubernetes). */ -}}
{{- if hasKey $env "EVENT_SINK" -}}
{{- $_ := set $env "EVENT_SINK" (default "" $root.Values.events.sink) -}}
{{- end -}}
{{- end -}}
{{- if eq $root.Values.platform "knative" -}}
{{- /* Knative owns PORT and injects K_SINK through the SinkBinding. */ -}}
{{- $_ := unset $env "PORT" -}}
{{- $_ := unset $env "K_SINK" -}}
{{- end -}}
{{- if eq $root.Values.platform "kubernetes" -}}
{{- $sink := include "geotrack.directSink" (list $root $fn $spec) -}}
{{- if $sink -}}
{{- $_ := set $env "K_SINK" $sink -}}
{{- end -}}
{{- end -}}
{{- if and (eq $fn "archiver") (hasKey $env "ARCHIVE_INTERVAL") ((($root.Values.archiver | default dict).cronJob | default dict).enabled) -}}
{{- /* archiver.cronJob schedules the passes: the archiver's own interval is off. */ -}}
{{- $_ := set $env "ARCHIVE_INTERVAL" "0s" -}}
{{- end -}}
{{- range $k, $v := $root.Values.extraEnv -}}
{{- $_ := set $env $k $v -}}
{{- end -}}
{{- toJson $env -}}
{{- end -}}

{{/*
geotrack.directSink: without a broker (platform kubernetes), a function that
emits an event type exactly one enabled function subscribes to gets that
function's URL as K_SINK (e.g. edge-ingest wakes forwarder). Fan-out to several
subscribers needs a broker: set events.sink to a NATS or broker URL instead.
*/}}
{{- define "geotrack.directSink" -}}
{{- $root := index . 0 -}}
{{- $spec := index . 2 -}}
{{- if $root.Values.events.sink -}}
{{- $root.Values.events.sink -}}
{{- else -}}
{{- $targets := list -}}
{{- range $emitted := default (list) $spec.emits -}}
{{- range $other, $ospec := $root.Values.functions -}}
{{- if and $ospec.enabled (has $emitted (default (list) $ospec.subscribes)) -}}
{{- $targets = append $targets $other -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $targets = uniq $targets -}}
{{- if eq (len $targets) 1 -}}
{{- include "geotrack.fnURL" (list $root (first $targets)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Container securityContext shared by every workload. */}}
{{- define "geotrack.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Secret volume of one function: the function's secrets from the
     existing Secret, mounted where OpenFaaS mounts them. */}}
{{- define "geotrack.secretVolume" -}}
{{- $root := index . 0 -}}
{{- $spec := index . 1 -}}
- name: secrets
  secret:
    secretName: {{ required "secrets.existingSecret is required when functions use secrets" $root.Values.secrets.existingSecret }}
    items:
    {{- range $spec.secrets }}
      - key: {{ . }}
        path: {{ . }}
    {{- end }}
{{- end -}}

{{- define "geotrack.validate" -}}
{{- if not (has .Values.platform (list "knative" "kubernetes" "openfaas")) -}}
{{- fail (printf "platform must be knative, kubernetes or openfaas, got %q" .Values.platform) -}}
{{- end -}}
{{- end -}}
