// Package monitoring holds what an operator loads into Prometheus and
// Grafana to watch xdhcpd: the alert rules (xdhcp-alerts.yml) with their
// promtool unit tests, and a Grafana dashboard (grafana-dashboard.json).
// The Go files only test them; the daemon's end-to-end tests run every
// rule and panel query against a real Prometheus scraping a real daemon.
package monitoring

import _ "embed"

// Alerts is the alert rule file, for tests that load it into Prometheus.
//
//go:embed xdhcp-alerts.yml
var Alerts []byte

// Dashboard is the Grafana dashboard, for tests that run its queries.
//
//go:embed grafana-dashboard.json
var Dashboard []byte
