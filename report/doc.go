// Package report is `redis-vip report`: a health report of each configured
// pair for cron, systemd timers, Nagios-style monitoring and Prometheus.
//
// Gather reads both nodes (INFO and CONFIG GET only: a report never changes
// Redis), the instance's journal, backups and hold-off state, the guard's
// include file, and who answers on each VIP, all under one deadline.
// Evaluate is pure: it turns what was read into a verdict (OK, WARNING,
// CRITICAL, UNKNOWN) with every reason. The renderers write the report as
// text for a person, as JSON (schema in docs/report.schema.json) or in the
// Prometheus text exposition format; WriteTextfile writes the metrics
// atomically for node_exporter's textfile collector.
package report
