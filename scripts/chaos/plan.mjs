// What a chaos run will do, decided up front from its seed: the tasks (when
// each is sent, to which master, persistent or in memory, how long it runs)
// and the fault schedule.
import { randomSource } from './random.mjs'

export const MASTERS = ['A', 'B']

/** Run sizes. Durations in ms. */
export const SIZES = {
  full: { tasks: 3000, sendMs: 80000, workerKills: 20, masterKills: 4, dbKills: 3, dbTerms: 3 },
  quick: { tasks: 500, sendMs: 16000, workerKills: 6, masterKills: 2, dbKills: 1, dbTerms: 1 }
}

/**
 * Each master's lease. A killed master's persistent tasks come back this
 * long after its death. It is kept well above a database outage (stop +
 * down time + start, under 8 s here): masters renew their leases every
 * third of a lease, so an outage shorter than two thirds of it lets no
 * lease lapse, and no finished task is run again because of it alone.
 */
export const LEASE_MS = 15000
export const WORKERS_PER_MASTER = 2

/** How long each task runs: quick sync ones, and async ones from tens to hundreds of ms. */
function duration (random) {
  const r = random.next()
  if (r < 0.45) return { taskType: 'BUSY', ms: random.int(1, 5) }
  if (r < 0.75) return { taskType: 'WAIT', ms: random.int(10, 60) }
  return { taskType: 'WAIT', ms: random.int(100, 500) }
}

/**
 * When each task is sent: half of them at random times, half in bursts (a
 * burst to one master queues more than its workers can take at once, so
 * that faults find tasks claimed, sent ahead to workers and waiting, not
 * only the one running).
 */
function sendTimes (random, size) {
  const bursts = Array.from({ length: Math.ceil(size.tasks / 40) }, () => random.between(0, size.sendMs))
  const times = Array.from({ length: size.tasks }, () => Math.round(random.chance(0.5) ? random.pick(bursts) : random.between(0, size.sendMs)))
  return times.sort((a, b) => a - b)
}

function tasks (random, size) {
  const list = []
  const times = sendTimes(random, size)
  for (let n = 0; n < size.tasks; n++) {
    const inMemory = random.chance(0.4)
    list.push({
      key: `${inMemory ? 'm' : 'p'}${n}`,
      at: times[n],
      master: random.pick(MASTERS),
      inMemory,
      priority: random.int(0, 3),
      // A few are due later, so the queues' timers are part of the run.
      dueInMs: random.chance(0.05) ? random.int(200, 3000) : 0,
      ...duration(random)
    })
  }
  return list
}

/**
 * Worker kills at random times over the send phase; the master and
 * database faults one after another (each waits for the previous one to
 * have recovered), at random times in slots of their own, in random order.
 */
function faults (random, size) {
  const workerKills = []
  for (let i = 0; i < size.workerKills; i++) {
    workerKills.push({ kind: 'worker-sigkill', at: Math.round(random.between(0.05, 1) * size.sendMs) })
  }
  workerKills.sort((a, b) => a.at - b.at)

  const big = []
  const masters = random.shuffle(MASTERS)
  for (let i = 0; i < size.masterKills; i++) {
    big.push({ kind: 'master-sigkill', target: masters[i % masters.length], downMs: random.int(300, 2500) })
  }
  // Some outages outlast addTask's wait for the database (about 5 s), so
  // refused adds are part of the run too.
  for (let i = 0; i < size.dbKills; i++) big.push({ kind: 'db-sigkill', downMs: random.int(300, 4500) })
  for (let i = 0; i < size.dbTerms; i++) big.push({ kind: 'db-sigterm', downMs: random.int(300, 4500) })
  const slot = (size.sendMs * 0.9) / big.length
  const ordered = random.shuffle(big).map((fault, i) => ({
    ...fault,
    at: Math.round(size.sendMs * 0.05 + slot * i + random.between(0, slot * 0.5))
  }))
  return { workerKills, big: ordered }
}

export function makePlan (seed, quick) {
  const size = quick ? SIZES.quick : SIZES.full
  const random = randomSource(seed)
  return { seed, quick, size, tasks: tasks(random, size), faults: faults(random, size) }
}
