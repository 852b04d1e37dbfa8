{{/*
An image reference from a service's `image` values: `registry/repository@digest`, or
`:tag` without a digest. For an image msctl builds, `global.registry` (when set) replaces the
service's own registry. Called as: include "msctl.image" (dict "image" ... "global" .Values.global)
*/}}
{{- define "msctl.image" -}}
{{- $i := .image -}}
{{- $registry := $i.registry -}}
{{- if and $i.built .global.registry -}}{{- $registry = .global.registry -}}{{- end -}}
{{- if $registry -}}{{ $registry }}/{{- end -}}
{{- $i.repository -}}
{{- if $i.digest -}}@{{ $i.digest }}{{- else -}}:{{ $i.tag }}{{- end -}}
{{- end -}}
