{{/*
Chart name, truncated to 63 characters because some Kubernetes name fields are limited to that.
*/}}
{{- define "demo-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, followed by the chart name unless the release
name already contains it.
*/}}
{{- define "demo-app.fullname" -}}
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

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "demo-app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the pods of one component. Call with (dict "ctx" $ "component" "web").
*/}}
{{- define "demo-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "demo-app.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Common labels. Call with (dict "ctx" $ "component" "web").
*/}}
{{- define "demo-app.labels" -}}
helm.sh/chart: {{ include "demo-app.chart" .ctx }}
{{ include "demo-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ include "demo-app.name" .ctx }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/*
Service account of the web pods.
*/}}
{{- define "demo-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "demo-app.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Web image, from the {repository, tag} shape; an empty tag falls back to the appVersion.
*/}}
{{- define "demo-app.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/*
Image reference from the Bitnami {registry, repository, tag, digest} shape.
global.imageRegistry, when set, replaces the image's own registry; a digest wins over the tag.
Call with (dict "image" .Values.metricsExporter.image "global" .Values.global).
*/}}
{{- define "demo-app.bitnamiImage" -}}
{{- $registry := .image.registry | default "" }}
{{- if and .global .global.imageRegistry }}
{{- $registry = .global.imageRegistry }}
{{- end }}
{{- $repository := .image.repository }}
{{- if $registry }}
{{- $repository = printf "%s/%s" $registry .image.repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repository (toString .image.digest) }}
{{- else }}
{{- printf "%s:%s" $repository (toString .image.tag) }}
{{- end }}
{{- end }}

{{/*
imagePullSecrets block for a pod spec, from the top-level imagePullSecrets value; empty when
there are none.
Accepts both [{name: x}] and ["x"].
*/}}
{{- define "demo-app.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets -}}
imagePullSecrets:
{{- range . }}
{{- if kindIs "map" . }}
  - name: {{ .name | quote }}
{{- else }}
  - name: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Host name of the cache subchart's Service, following the subchart's fullname rule.
*/}}
{{- define "demo-app.cacheHost" -}}
{{- if .Values.cache.fullnameOverride }}
{{- .Values.cache.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains "cache" .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-cache" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
Database environment shared by the web container and the migration Job.
*/}}
{{- define "demo-app.databaseEnv" -}}
- name: DATABASE_URL
  value: {{ .Values.database.url | quote }}
{{- with .Values.database.passwordSecret }}
{{- if .name }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .name | quote }}
      key: {{ .key | default "password" | quote }}
{{- end }}
{{- end }}
{{- end }}
