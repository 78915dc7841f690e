{{/*
A small TOML writer for the broker's settings file. Helm's own toToml writes every number from a
values file as a float (20 becomes 20.0); this one writes whole numbers as integers. Strings are
written as JSON strings, which are valid TOML basic strings. Keys are sorted, so the file (and its
checksum on the Deployment) only changes when a setting does.

  include "brp-broker.toml" (dict "table" $settings)
*/}}

{{- define "brp-broker.toml" -}}
{{- $path := .path | default "" }}
{{- $table := .table }}
{{- range $key, $value := $table }}
{{- if not (include "brp-broker.toml.isTable" $value) }}
{{- if not (include "brp-broker.toml.isTableArray" $value) }}
{{ include "brp-broker.toml.key" $key }} = {{ include "brp-broker.toml.value" $value }}
{{- end }}
{{- end }}
{{- end }}
{{- range $key, $value := $table }}
{{- $name := include "brp-broker.toml.key" $key }}
{{- if $path }}{{ $name = printf "%s.%s" $path $name }}{{ end }}
{{- if include "brp-broker.toml.isTable" $value }}

[{{ $name }}]
{{- include "brp-broker.toml" (dict "path" $name "table" $value) }}
{{- else if include "brp-broker.toml.isTableArray" $value }}
{{- range $value }}

[[{{ $name }}]]
{{- include "brp-broker.toml" (dict "path" $name "table" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "brp-broker.toml.isTable" -}}
{{- if kindIs "map" . }}true{{ end }}
{{- end }}

{{- define "brp-broker.toml.isTableArray" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) }}{{ if kindIs "map" (first .) }}true{{ end }}{{ end }}
{{- end }}

{{- define "brp-broker.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{- define "brp-broker.toml.value" -}}
{{- if kindIs "string" . }}{{ toJson . }}
{{- else if kindIs "bool" . }}{{ . }}
{{- else if kindIs "float64" . }}{{ if eq (floor .) . }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if or (kindIs "int" .) (kindIs "int64" .) }}{{ . }}
{{- else if kindIs "slice" . }}[{{ range $i, $item := . }}{{ if $i }}, {{ end }}{{ include "brp-broker.toml.value" $item }}{{ end }}]
{{- else if kindIs "map" . }}{ {{- range $i, $key := keys . | sortAlpha }}{{ if $i }},{{ end }} {{ include "brp-broker.toml.key" $key }} = {{ include "brp-broker.toml.value" (get $ $key) }}{{ end }} }
{{- else if kindIs "invalid" . }}{{ fail "settings: TOML has no null; leave the key out instead" }}
{{- else }}{{ fail (printf "settings: cannot write %v (%s) as TOML" . (kindOf .)) }}
{{- end }}
{{- end }}
