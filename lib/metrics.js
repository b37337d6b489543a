'use strict'
// The master's metrics for the tools operators run: Prometheus text
// (exposition format 0.0.4) and a prom-client registry. The families and
// their samples come from the core (src/master/metrics.rs), counted since
// the master started; this file only writes them out.
//
//   import { collectMetrics } from 'meteor-cluster/metrics'
//   collectMetrics(register)   // prom-client's default registry, or yours

const identity = require('./identity')
const { codes } = require('./errors')
const { OPS } = require('./wire')

/** The families, as the core gives them: `[{ name, help, type, samples: [{ name, labels: [[k, v]], value }] }]`. */
function families () {
  if (identity.isWorker) {
    const error = new Error('metrics are only available in the master process')
    error.code = codes.MASTER_ONLY
    return Promise.reject(error)
  }
  return require('./master').request(OPS.METRICS, '{}')
}

const escapeLabel = (value) => String(value).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
const escapeHelp = (text) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')

function formatValue (value) {
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  if (Number.isNaN(value)) return 'NaN'
  return String(value)
}

/** Prometheus text, exposition format 0.0.4. */
function exposition (list) {
  let text = ''
  for (const family of list) {
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} ${family.type}\n`
    for (const sample of family.samples) {
      const labels = sample.labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
      text += `${sample.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}\n`
    }
  }
  return text
}

/** `cluster.metrics()`: the master's metrics as Prometheus text. */
function metrics () {
  return families().then(exposition)
}

/**
 * Registers the master's series in a prom-client registry (`register`,
 * or a `new Registry()`), for apps that already have one: each is read
 * from the master when the registry is collected. Returns the registry.
 */
function collectMetrics (registry) {
  if (registry === null || typeof registry !== 'object' || typeof registry.registerMetric !== 'function') {
    const error = new TypeError('collectMetrics: registry must be a prom-client Registry (it has registerMetric), got ' +
      (registry === null ? 'null' : typeof registry))
    error.code = codes.INVALID_ARG
    throw error
  }
  // One read of the master per collection of the registry, however many series.
  let pending = null
  const read = () => {
    if (pending === null) {
      pending = families()
      const clear = () => { pending = null }
      pending.then(clear, clear)
    }
    return pending
  }
  for (const name of SERIES) {
    registry.registerMetric({
      name,
      reset () {},
      async get () {
        const family = (await read()).find((f) => f.name === name)
        if (family === undefined) return { name, help: name, type: 'gauge', values: [], aggregator: 'sum' }
        const values = family.samples.map((s) => ({ metricName: s.name, labels: Object.fromEntries(s.labels), value: s.value }))
        return { name, help: family.help, type: family.type, values, aggregator: 'sum' }
      }
    })
  }
  return registry
}

/**
 * The series' names (their help and type come from the core): a registry
 * needs them before anything is read. The metrics test checks them
 * against the core's families.
 */
const SERIES = [
  'meteor_cluster_tasks_added_total',
  'meteor_cluster_tasks_finished_total',
  'meteor_cluster_worker_exits_total',
  'meteor_cluster_task_run_seconds',
  'meteor_cluster_task_wait_seconds',
  'meteor_cluster_queue_depth',
  'meteor_cluster_running_tasks',
  'meteor_cluster_workers',
  'meteor_cluster_persistent_reachable'
]

module.exports = { metrics, collectMetrics, exposition, SERIES }
