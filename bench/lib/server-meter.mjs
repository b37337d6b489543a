// What a measured window cost the database server: the requests it read
// (round trips), per command, and its CPU time. Used by the persistent
// workloads at depth, in the subject's own process, around its timed window.
//
// Round trips are the server's own count of wire messages read
// (`serverStatus.network.numRequests`: every OP_MSG, whichever connection
// and client sent it, the queue's monitoring and change streams included).
// `metrics.commands.<name>.total` says which commands they were, and
// `opcounters` is kept as mongod defines it (inserts, updates and deletes
// counted by document or statement, not by request). CPU is the server
// process's utime + stime from /proc/<pid>/stat.
//
// With `limits` (a queue's collection name), the meter also counts what
// the window did to that queue's limits documents (`<collection>.limits`):
// the updates and reads the server served on that namespace (`top`), and
// from the oplog the updates that changed a document, split into
// compare-and-set writes (they bump the version `v`) and holdings writes;
// an update that changed nothing is a compare-and-set that lost to another
// master's write (or, rarely, a holdings entry removed twice).
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { MongoClient } from 'mongodb'
import { median } from './common.mjs'

let ticksPerSecond = null
function clockTicks () {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU seconds (user + system) used so far by process `pid`; null when unreadable. */
export function cpuSeconds (pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / clockTicks()
  } catch {
    return null
  }
}

function snapshotOf (status) {
  const commands = {}
  for (const [name, entry] of Object.entries((status.metrics && status.metrics.commands) || {})) {
    if (entry && typeof entry === 'object' && entry.total !== undefined) commands[name] = Number(entry.total)
  }
  const opcounters = {}
  for (const [name, n] of Object.entries(status.opcounters || {})) opcounters[name] = Number(n)
  const requests = status.network && status.network.numRequests !== undefined ? Number(status.network.numRequests) : null
  return { requests, commands, opcounters }
}

function delta (after, before) {
  const out = {}
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] || 0)
    if (d !== 0) out[name] = d
  }
  return out
}

/** The `top` counters of namespace `ns` (zero when the server has not seen it), and the server's operation time. */
async function topOf (admin, ns) {
  const reply = await admin.command({ top: 1 })
  const entry = (reply.totals && reply.totals[ns]) || {}
  const count = (key) => Number((entry[key] && entry[key].count) || 0)
  return { updates: count('update'), reads: count('queries') + count('getmore'), opTime: reply.operationTime }
}

/** What a window did to the limits documents of namespace `ns`, between two `topOf` readings. */
async function limitsCost (client, ns, before, after, tasks) {
  const written = await client.db('local').collection('oplog.rs')
    .find({ ns, ts: { $gt: before.opTime, $lte: after.opTime } })
    .project({ op: 1, o: 1 })
    .toArray()
  // A compare-and-set bumps `v` (the first one inserts the document with it).
  const bumps = (entry) => entry.op === 'i'
    ? entry.o && entry.o.v !== undefined
    : Boolean(entry.o && entry.o.diff && entry.o.diff.updatedFields && 'v' in entry.o.diff.updatedFields)
  const casWrites = written.filter(bumps).length
  const updates = after.updates - before.updates
  const out = {
    updates,
    reads: after.reads - before.reads,
    casWrites,
    holdingsWrites: written.length - casWrites,
    unchanged: Math.max(0, updates - written.length)
  }
  const per1000 = Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v / tasks * 1000]))
  return { ...out, per1000 }
}

/**
 * Connects a client of its own to the server at `url` (pid `pid`);
 * `start()` and `stop(tasks)` bracket a window, and `stop` returns what the
 * window cost, per 1,000 tasks too. `limits`: the collection whose limits
 * documents to count too (`stop` then returns `limitsDoc`). `close()`
 * disconnects.
 */
export async function serverMeter ({ url, pid, limits = null }) {
  // Few heartbeats of its own: they would be counted as round trips.
  const client = new MongoClient(url, { maxPoolSize: 1, heartbeatFrequencyMS: 600000, serverMonitoringMode: 'poll' })
  await client.connect()
  const admin = client.db('admin')
  const status = async () => snapshotOf(await admin.command({ serverStatus: 1 }))
  const limitsNs = limits && `${client.db().databaseName}.${limits}.limits`
  let before = null
  return {
    async start () {
      // The meter's own `top` is read before the window opens.
      const top = limitsNs ? await topOf(admin, limitsNs) : null
      before = { ...(await status()), cpu: cpuSeconds(pid), top }
    },
    async stop (tasks) {
      const cpu = cpuSeconds(pid)
      const after = await status()
      // Read after the window's last request (serverStatus) was counted.
      const limitsDoc = limitsNs ? await limitsCost(client, limitsNs, before.top, await topOf(admin, limitsNs), tasks) : undefined
      // The window holds one request of ours: the serverStatus of `stop`
      // (a request is counted when it is read, before its reply is built).
      const commands = delta(after.commands, before.commands)
      if (commands.serverStatus) commands.serverStatus -= 1
      if (!commands.serverStatus) delete commands.serverStatus
      const opcounters = delta(after.opcounters, before.opcounters)
      if (opcounters.command) opcounters.command -= 1
      if (!opcounters.command) delete opcounters.command
      const requests = after.requests !== null && before.requests !== null ? after.requests - before.requests - 1 : null
      const cpuS = cpu !== null && before.cpu !== null ? cpu - before.cpu : null
      return {
        roundTrips: requests,
        roundTripsPer1000: requests === null ? null : requests / tasks * 1000,
        serverCpuS: cpuS,
        serverCpuSPer1000: cpuS === null ? null : cpuS / tasks * 1000,
        commands,
        opcounters,
        ...(limitsDoc ? { limitsDoc } : {})
      }
    },
    close: () => client.close()
  }
}

/** The result of a depth workload: the median rate, and the cost per round (median per 1,000 tasks). */
export function depthResult (rounds) {
  const pick = (key) => rounds.map((r) => r[key]).filter((v) => v !== null)
  return {
    metric: 'tasks/s',
    value: median(rounds.map((r) => r.rate)),
    reps: rounds.map((r) => r.rate),
    roundTripsPer1000: pick('roundTripsPer1000').length ? median(pick('roundTripsPer1000')) : null,
    serverCpuSPer1000: pick('serverCpuSPer1000').length ? median(pick('serverCpuSPer1000')) : null,
    rounds
  }
}
