'use strict'
// `meteor-cluster/metrics`: the master's metrics for Prometheus tools.
const { collectMetrics } = require('./lib/metrics')

module.exports = { collectMetrics }
