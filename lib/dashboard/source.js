'use strict'
// Where the dashboard's data comes from: the queue's collection and the
// masters' registry through the addon's `Board` (embedded or standalone),
// and, embedded in a master, that master's own Cluster: its in-memory
// tasks, live workers and stats, its pause/resume, and `TaskQueue.cancel`.

const binding = require('../binding')
const { encode } = require('../codec')
const { errorFrom } = require('../errors')
const { BOARD_OPS, boardListArgs, boardArgs, readBoardAnswer } = require('../wire')
const { HttpError } = require('./http')
const os = require('os')

/** A `Board.call` as a Promise of its answer (decoded EJSON); a refusal rejects with a coded error. */
function boardCall (board, op, args = '{}') {
  return board.call(op, args).then((json) => decodeDates(readBoardAnswer(json, errorFrom)))
}

/** Fields shown as EJSON, as stored: a task's data and progress keep their tags. */
const AS_STORED = new Set(['data', 'progress'])

/**
 * EJSON `{ $date: ms }` as ms numbers (what the page reads), other tags as
 * they are; a task's data and progress stay EJSON.
 */
function decodeDates (value) {
  if (Array.isArray(value)) return value.map(decodeDates)
  if (value === null || typeof value !== 'object') return value
  const keys = Object.keys(value)
  if (keys.length === 1 && keys[0] === '$date' && typeof value.$date === 'number') return value.$date
  const out = {}
  for (const key of keys) out[key] = AS_STORED.has(key) ? value[key] : decodeDates(value[key])
  return out
}

const noPersistentQueue = () => new HttpError(503, 'this dashboard has no persistent queue (no MongoDB URL)', 'ERR_NO_PERSISTENT_QUEUE')

/**
 * The data of one dashboard. `settings()` gives `{ mongoUrl, collectionName }`
 * (read at each call: the Cluster may be made after the handler);
 * `local()` the Cluster of this process, or null (standalone).
 */
class Source {
  constructor ({ settings, local }) {
    this.settings = settings
    this.local = local
    this.board = null
    this.boardKey = null
  }

  /** The Board of the current URL and collection, or null without one. */
  persistent () {
    const { mongoUrl, collectionName } = this.settings()
    if (!mongoUrl) return null
    const key = `${mongoUrl}\n${collectionName}`
    if (this.boardKey !== key) {
      this.board = new binding.Board(mongoUrl, collectionName)
      this.boardKey = key
    }
    return this.board
  }

  call (op, args) {
    const board = this.persistent()
    if (board === null) return Promise.reject(noPersistentQueue())
    return boardCall(board, op, args)
  }

  async overview () {
    const local = this.local()
    const board = this.persistent()
    const [persistent, masters] = board === null ? [null, { masters: [] }] : await Promise.all([this.call(BOARD_OPS.OVERVIEW), this.masters()])
    const stats = local === null ? null : local.stats()
    return {
      now: persistent ? persistent.now : Date.now(),
      persistent,
      inMemory: stats === null ? null : { ...stats.inMemory, running: stats.running },
      history: history(masters.masters),
      masters: masters.masters.length
    }
  }

  async tasks (query) {
    if (query.where === 'memory') return this.memoryTasks(query)
    return this.call(BOARD_OPS.LIST, boardListArgs(query))
  }

  /** The in-memory tasks of this process, filtered, best first, `limit` of them. */
  memoryTasks ({ taskType, state, idPrefix, limit }) {
    const local = this.local()
    if (local === null) return { now: Date.now(), tasks: [], next: null }
    const now = Date.now()
    const running = new Set(local.workers().filter((w) => w.task).map((w) => w.task._id))
    const tasks = local.TaskQueue.inMemory.tasks()
      .map((t) => ({ ...plain(t), inMemory: true, onGoing: running.has(t._id) || t.onGoing }))
      .filter((t) => (taskType === undefined || t.taskType === taskType) &&
        (idPrefix === undefined || String(t._id).startsWith(idPrefix)) &&
        (state === undefined || memoryState(t, now) === state))
    return { now, tasks: tasks.slice(0, limit), next: null, more: tasks.length > limit }
  }

  async task (id) {
    const local = this.local()
    if (local !== null) {
      const found = local.TaskQueue.inMemory.findById(id)
      if (found !== undefined) return { now: Date.now(), task: { ...plain(found), inMemory: true } }
    }
    if (this.persistent() === null) return { now: Date.now(), task: null }
    return this.call(BOARD_OPS.TASK, boardArgs.id(id))
  }

  async masters () {
    const local = this.local()
    const answer = this.persistent() === null ? { now: Date.now(), masters: [] } : await this.call(BOARD_OPS.MASTERS)
    if (local === null) return answer
    // This process's own master: live workers rather than its last heartbeat.
    const host = os.hostname()
    let own = answer.masters.find((m) => m.pid === process.pid && m.host === host)
    if (own === undefined) {
      const stats = local.stats()
      own = { _id: 'local', host, pid: process.pid, paused: stats.paused, counters: stats.counters, exits: stats.recentExits, taskTypes: [], stats }
      answer.masters.unshift(own)
    }
    own.local = true
    own.workers = local.workers().map((w) => ({ ...w, startedAt: +w.startedAt, task: w.task && { ...w.task, startedAt: +w.task.startedAt } }))
    const stats = local.stats()
    own.paused = stats.paused
    own.counters = stats.counters
    own.exits = stats.recentExits
    return answer
  }

  /**
   * This process's master's Prometheus text. Metrics are per master (each
   * scraped on its own): a standalone dashboard has none to give.
   */
  metrics () {
    const local = this.local()
    if (local === null) {
      return Promise.reject(new HttpError(404, 'no master in this process: metrics are served by the dashboard mounted in each master (or cluster.metrics())', 'ERR_NOT_FOUND'))
    }
    return local.cluster.metrics()
  }

  /** Runs an action; resolves with `{ changed }`. */
  async act (action, target) {
    const local = this.local()
    switch (action) {
      case 'cancel':
        if (local !== null) {
          const changed = await local.TaskQueue.cancel(target, 'cancelled from the dashboard')
          if (changed === 0) throw notFound(`no queued or running task with _id ${JSON.stringify(target)}: it finished, failed or was removed`)
          return { changed }
        }
        return this.call(BOARD_OPS.CANCEL, boardArgs.id(target))
      case 'remove':
        if (local !== null && local.TaskQueue.inMemory.findById(target) !== undefined) {
          local.TaskQueue.inMemory.removeById(target)
          return { changed: 1 }
        }
        return this.call(BOARD_OPS.REMOVE, boardArgs.id(target))
      case 'retry': return this.call(BOARD_OPS.RETRY, boardArgs.id(target))
      case 'run': return this.call(BOARD_OPS.RUN_NOW, boardArgs.id(target))
      case 'retryFailed': return this.call(BOARD_OPS.RETRY_FAILED, boardArgs.taskType(target))
      case 'removeFailed': return this.call(BOARD_OPS.REMOVE_FAILED, boardArgs.taskType(target))
      case 'pause':
      case 'resume': {
        if (local !== null && (target === 'local' || isOwn(target))) {
          local.cluster[action]()
          return { changed: 1 }
        }
        return this.call(action === 'pause' ? BOARD_OPS.PAUSE : BOARD_OPS.RESUME, boardArgs.master(target))
      }
      default: throw new HttpError(404, `no action ${action}`, 'ERR_NOT_FOUND')
    }
  }
}

/** Whether a registry `_id` (`host:pid:random`) is this process's master. */
function isOwn (id) {
  const [host, pid] = String(id).split(':')
  return host === os.hostname() && Number(pid) === process.pid
}

function notFound (message) {
  const error = new Error(message)
  error.code = 'ERR_NOT_FOUND'
  return error
}

/** An in-memory task as the addon's answers give one: Dates as ms, data and progress as EJSON. */
function plain (task) {
  const out = {}
  for (const [key, value] of Object.entries(task)) {
    if (AS_STORED.has(key)) {
      const json = encode(value, key)
      out[key] = json === undefined ? null : JSON.parse(json)
    } else {
      out[key] = value instanceof Date ? +value : value
    }
  }
  return out
}

function memoryState (task, now) {
  if (task.onGoing) return 'running'
  return task.dueDate <= now ? 'due' : 'scheduled'
}

/** Done and failed per minute over the last hour, summed over the masters' histories. */
function history (masters) {
  const minute = Math.floor(Date.now() / 60000) * 60000
  const minutes = Array.from({ length: 60 }, (_, i) => minute - (59 - i) * 60000)
  const done = new Array(60).fill(0)
  const failed = new Array(60).fill(0)
  for (const m of masters) {
    const h = m.history
    if (!h || !Array.isArray(h.done)) continue
    h.done.forEach((n, i) => {
      const at = (minutes.length - 1) - Math.round((minute - (h.minute - (h.done.length - 1 - i) * 60000)) / 60000)
      if (at >= 0 && at < 60) {
        done[at] += n
        failed[at] += h.failed[i] || 0
      }
    })
  }
  return { minutes, done, failed }
}

module.exports = { Source, decodeDates }
