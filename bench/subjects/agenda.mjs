// Agenda (npm `agenda` 6 with `@agendajs/mongo-backend`) on the bench's
// MongoDB-compatible server. Jobs run in this process (Agenda's model), two
// at a time to mirror two workers; finished jobs are removed like the other
// subjects'. New jobs are announced through Agenda's in-process notification
// channel, so they are picked up without waiting for the next poll.
import { Agenda, InMemoryNotificationChannel } from 'agenda'
import { MongoBackend } from '@agendajs/mongo-backend'
import { args, now, runSubject, watchdog, within, expectedSum, median } from '../lib/common.mjs'

const { workload, params } = args()
watchdog(params.watchdogMs ?? 60000)
let agenda = null

runSubject(async () => {
  if (workload !== 'persistent') throw new Error(`unknown workload ${workload}`)
  agenda = new Agenda({
    backend: new MongoBackend({ address: params.url, collection: 'agendaJobs' }),
    notificationChannel: new InMemoryNotificationChannel(),
    processEvery: 100,
    maxConcurrency: 2,
    defaultConcurrency: 2,
    removeOnComplete: true
  })
  let onSuccess = null
  let onFail = null
  agenda.define('echo', async (job) => job.attrs.data.x, { concurrency: 2 })
  agenda.on('success:echo', (job) => onSuccess && onSuccess(job))
  agenda.on('fail:echo', (error, job) => onFail && onFail(error, job))
  await within(agenda.start(), params.timeoutMs, 'agenda.start()')

  const rates = []
  for (let r = 0; r < params.reps; r++) {
    const n = params.n
    let left = n
    let sum = 0
    const done = new Promise((resolve, reject) => {
      onFail = (error) => reject(new Error(`a job failed: ${error && error.message}`))
      onSuccess = (job) => {
        sum += job.attrs.data.x
        if (--left === 0) resolve()
      }
    })
    done.catch(() => {})
    const t0 = now()
    // One add after another: Agenda's fastest way here. A burst of 2,000
    // concurrent agenda.now() calls did not finish within 60 s on this server.
    for (let i = 0; i < n; i++) await within(agenda.now('echo', { x: i }), params.timeoutMs, `agenda.now ${i}`)
    await within(done, params.timeoutMs, `${n} jobs`)
    const ms = now() - t0
    if (sum !== expectedSum(n)) throw new Error(`wrong results (sum ${sum}, expected ${expectedSum(n)})`)
    rates.push(n / (ms / 1000))
  }
  return { metric: 'tasks/s', value: median(rates), reps: rates }
}, async () => { if (agenda) await agenda.stop() })
