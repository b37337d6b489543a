'use strict'
// Cluster: isomorphic. The same `new Cluster(taskMap, options)` configures
// the pool in the master and starts serving tasks in a worker.

const identity = require('./identity')
const { clusterArgs, refreshRateArg, fail } = require('./validate')
const { cpus } = require('./defaults')
const { codes } = require('./errors')

/** Upstream's option warnings, in the master only (workers would repeat them). */
function warn (message) {
  if (!identity.isWorker) require('./binding').logLine('warn', message)
}

class Cluster {
  constructor (taskMap, options = {}) {
    const opts = clusterArgs(taskMap, options, warn)
    this._options = opts
    if (identity.isWorker) {
      require('./worker-runtime').serve(taskMap)
      return
    }
    checkMongoUrl(opts)
    const side = require('./master')
    side.setBroker(opts.messageBroker)
    side.setCluster(this)
    side.configure(opts, Object.keys(taskMap))
    if (opts.autoInitialize) this.initialize()
  }

  /** `true` in the master process, `false` in a worker. */
  static isMaster () {
    return !identity.isWorker
  }

  /** The most workers this machine can have at once (its CPU count). */
  static maxWorkers () {
    return cpus()
  }

  /** Starts dispatching (needed once when `autoInitialize` is `false`). */
  initialize () {
    if (!identity.isWorker) require('./master').withNative((m) => m.initialize())
  }

  /** How often, in ms, the master looks for tasks other processes added. */
  setRefreshRate (refreshRate) {
    // As upstream (setInterval), numeric strings work; garbage is warned about.
    const rate = refreshRateArg(refreshRate, this._options.refreshRate, warn)
    this._options.refreshRate = rate
    if (!identity.isWorker) require('./master').withNative((m) => m.setRefreshRate(rate))
  }

  /**
   * A snapshot of the master: workers, running and queued tasks, the
   * persistent side, and counters (tasks done and failed, workers started
   * and exited, the last worker's spawn-to-ready time in ms). `null` in a worker.
   */
  stats () {
    return identity.isWorker ? null : JSON.parse(require('./master').withNative((m) => m.stats()))
  }

  /**
   * Stops dispatching, hands back claimed and sent-ahead tasks that have not
   * started, lets running tasks finish (within `timeout` ms if given, after
   * which their workers are stopped and they are handed back too: not
   * failed, the attempt not counted), then stops every worker. The same
   * promise is returned to every caller until it resolves.
   */
  close (options) {
    if (identity.isWorker) return Promise.resolve()
    const { timeout } = options === undefined || options === null ? {} : options
    if (timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout < 0 || timeout > 0xffffffff)) {
      throw fail('cluster.close', 'timeout', timeout, 'a whole number of ms, or nothing (wait for running tasks)')
    }
    return require('./master').close(timeout)
  }

  /**
   * Each live worker of the master (synchronous; master only): `{ id,
   * pid, state: 'starting' | 'ready' | 'running' | 'retiring', task: {
   * _id, taskType, startedAt } | null, runs, rssBytes, startedAt }`.
   * `rssBytes` is read from the system, not asked of the worker (null
   * where the system does not say: only Linux does).
   */
  workers () {
    if (identity.isWorker) {
      const error = new Error('cluster.workers() is only available in the master process')
      error.code = codes.MASTER_ONLY
      throw error
    }
    const workers = JSON.parse(require('./master').withNative((m) => m.workers()))
    for (const w of workers) {
      w.startedAt = new Date(w.startedAt)
      if (w.task !== null) w.task.startedAt = new Date(w.task.startedAt)
    }
    return workers
  }

  /**
   * The master's metrics as Prometheus text (exposition format 0.0.4):
   * counters since it started, histograms, gauges. Rejects with
   * `ERR_MASTER_ONLY` in a worker.
   */
  metrics () {
    return require('./metrics').metrics()
  }

  /** Stops starting tasks (and claiming persistent ones); running tasks finish. */
  pause () {
    if (!identity.isWorker) require('./master').withNative((m) => m.pause())
  }

  /** Starts tasks again after `pause()`. */
  resume () {
    if (!identity.isWorker) require('./master').withNative((m) => m.resume())
  }
}

/**
 * A MongoDB URL that cannot work fails `new Cluster` at once, rather than
 * every persistent call later (a URL without a database used to hang).
 */
function checkMongoUrl (opts) {
  if (opts.mongoUrl === null || opts.inMemoryOnly) return
  const problem = require('./binding').mongoUrlProblem(opts.mongoUrl)
  if (problem !== null && problem !== undefined) {
    const source = opts.mongoUrlFromEnv ? 'MONGO_URL' : 'mongoUrl'
    const error = fail('new Cluster', source, opts.mongoUrl, `a MongoDB URL with a database; this one ${problem}`)
    error.code = 'ERR_INVALID_ARG'
    throw error
  }
}

module.exports = Cluster
