#!/usr/bin/env bash
# Regenerates the files under deploy/ that come from the Helm chart, for
# docker-compose:
#   deploy/prometheus/rules/ges-alerts.yml  the chart's PrometheusRule groups
#                                           (default values, release and namespace "ges")
#   deploy/grafana/ges-dashboard.json       copy of charts/ges/dashboards/ges-dashboard.json
# internal/opstest fails when they drift from the chart. Needs helm on PATH
# (scripts/ops-tools.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v helm >/dev/null || PATH="${GES_TOOLS_DIR:-$HOME/.cache/ges-tools/bin}:$PATH"

rules=deploy/prometheus/rules/ges-alerts.yml
mkdir -p "$(dirname "$rules")"
{
  echo "# Rendered from charts/ges (templates/prometheusrule.yaml, default values,"
  echo "# namespace ges) by scripts/ops-render.sh; do not edit by hand."
  helm template ges charts/ges --namespace ges --set ges.monitoring.prometheus.enabled=true \
    --show-only templates/prometheusrule.yaml |
    awk 'found && $0 == "---" { exit } found { sub(/^  /, ""); print } $0 == "spec:" { found = 1 }' |
    sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
} >"$rules.tmp"
mv "$rules.tmp" "$rules"

cp charts/ges/dashboards/ges-dashboard.json deploy/grafana/ges-dashboard.json
echo "ops-render: wrote $rules and deploy/grafana/ges-dashboard.json"
