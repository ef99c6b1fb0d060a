{{/*
Helpers. Values are read with dig wherever a user file may have removed a key:
in Helm a null in a values file (the guide's sample has several, such as
"redis: host:") deletes the default.
*/}}

{{/* The service name: serviceName (guide table) wins over servicename (guide sample). */}}
{{- define "ges.serviceName" -}}
{{- $g := .Values.ges -}}
{{- dig "serviceName" "" $g | default (dig "servicename" "" $g) | default "ges" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* <servicename>-<release>: the name of every object but the Service. */}}
{{- define "ges.fullname" -}}
{{- printf "%s-%s" (include "ges.serviceName" .) .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The ConfigMap the guide's envFrom example points at. */}}
{{- define "ges.configMapName" -}}
{{- printf "%s-%s-configmap" (include "ges.serviceName" .) .Release.Name -}}
{{- end -}}

{{/* "true" when the value is true, or a string spelling true in any case; "" otherwise. */}}
{{- define "ges.truthy" -}}
{{- if kindIs "string" . -}}
{{- if eq (lower (trim .)) "true" -}}true{{- end -}}
{{- else if kindIs "bool" . -}}
{{- if . -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels that select the pods. */}}
{{- define "ges.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ges.serviceName" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object: chart labels plus globalLabels (templates allowed). */}}
{{- define "ges.labels" -}}
{{ include "ges.selectorLabels" . }}
app.kubernetes.io/version: {{ include "ges.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with dig "labels" "globalLabels" (dict) .Values.ges }}
{{ tpl (toYaml .) $ }}
{{- end }}
{{- end -}}

{{/* metadata.annotations of every object (globalAnnotations), as a block or nothing; call as {{- include ... }}. */}}
{{- define "ges.annotations" -}}
{{- with dig "annotations" "globalAnnotations" (dict) .Values.ges }}
  annotations:
    {{- tpl (toYaml .) $ | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Image tag: tag, then the guide's version, then the chart's appVersion. */}}
{{- define "ges.imageTag" -}}
{{- $i := dig "deployment" "image" (dict) .Values.ges -}}
{{- dig "tag" "" $i | default (dig "version" "" $i) | default .Chart.AppVersion | toString -}}
{{- end -}}

{{/* Full image reference: repository, else registry/name. */}}
{{- define "ges.image" -}}
{{- $i := dig "deployment" "image" (dict) .Values.ges -}}
{{- $repo := dig "repository" "" $i -}}
{{- if not $repo -}}
{{- $name := dig "name" "genesys/ges" $i | default "genesys/ges" -}}
{{- $reg := dig "registry" "" $i | default "" | trimSuffix "/" -}}
{{- $repo = ternary (printf "%s/%s" $reg $name) $name (ne $reg "") -}}
{{- end -}}
{{- printf "%s:%s" $repo (include "ges.imageTag" .) -}}
{{- end -}}

{{/* Container ports from the config map (the process listens where its environment says). */}}
{{- define "ges.internalPort" -}}
{{- dig "configMap" "env" "server" "internal_port" 3050 .Values.ges | default 3050 | int -}}
{{- end -}}
{{- define "ges.externalPort" -}}
{{- dig "configMap" "env" "server" "external_port" 2050 .Values.ges | default 2050 | int -}}
{{- end -}}

{{/*
ges.flattenEnv turns the free-form part of configMap.env into variables named
after the path in upper snake case. Arguments: dict "out" (a dict to fill),
"prefix" (string) and "value".
*/}}
{{- define "ges.flattenEnv" -}}
{{- $out := .out -}}
{{- if kindIs "map" .value -}}
{{- range $k, $v := .value -}}
{{- $name := snakecase $k | upper -}}
{{- if $.prefix }}{{ $name = printf "%s_%s" $.prefix $name }}{{ end -}}
{{- include "ges.flattenEnv" (dict "out" $out "prefix" $name "value" $v) -}}
{{- end -}}
{{- else if kindIs "slice" .value -}}
{{- $_ := set $out .prefix (join "," .value) -}}
{{- else if not (kindIs "invalid" .value) -}}
{{- $_ := set $out .prefix (toString .value) -}}
{{- end -}}
{{- end -}}

{{/* The PromQL matchers of GES's own series (see monitoring.prometheus.alerts.selector). */}}
{{- define "ges.promSelector" -}}
{{- dig "monitoring" "prometheus" "alerts" "selector" "" .Values.ges | default (printf "job=%q,namespace=%q" (include "ges.serviceName" .) .Release.Namespace) -}}
{{- end -}}

{{/* The PromQL matchers of the GES containers in kube-state-metrics series. */}}
{{- define "ges.kubeSelector" -}}
{{- printf "namespace=%q,pod=~%q,container=\"ges\"" .Release.Namespace (printf "%s-.*" (include "ges.fullname" .)) -}}
{{- end -}}

{{/* The container's CPU limit in cores (resources.limits.cpu; 1 when unset). */}}
{{- define "ges.cpuCores" -}}
{{- $c := dig "resources" "limits" "cpu" "" .Values.ges | toString -}}
{{- if not $c -}}1
{{- else if hasSuffix "m" $c -}}{{ divf (trimSuffix "m" $c | float64) 1000 }}
{{- else -}}{{ $c | float64 }}
{{- end -}}
{{- end -}}

{{/*
ges.occurred: PromQL that is non-empty while an alert counter moved within the
window. GES creates a counter on its first occurrence (guide, "Metrics") and
increase() cannot see the step from "no series" to its first value, so a
series that appeared within the window counts with its whole value.
Arguments: list METRIC SELECTOR WINDOW.
*/}}
{{- define "ges.occurred" -}}
{{- $m := printf "%s{%s}" (index . 0) (index . 1) -}}
{{- printf "(%s unless %s offset %s) or (increase(%s[%s]) > 0)" $m $m (index . 2) $m (index . 2) -}}
{{- end -}}

{{/* ges.countIn: how much a counter moved within the window, a series that appeared in it counting whole. Arguments as ges.occurred. */}}
{{- define "ges.countIn" -}}
{{- $m := printf "%s{%s}" (index . 0) (index . 1) -}}
{{- printf "((%s unless %s offset %s) or increase(%s[%s]))" $m $m (index . 2) $m (index . 2) -}}
{{- end -}}
