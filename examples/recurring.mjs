// Recurring tasks with `repeat`, in memory (no MongoDB needed):
// - HEARTBEAT repeats every 300 ms. Its `_id` is the series' key: adding
//   it again while it is queued does nothing and resolves with that `_id`.
//   After 3 runs the master ends the series with inMemory.removeById.
// - NIGHTLY_REPORT repeats on a cron schedule in a time zone. Its first
//   run is at its dueDate (now, as nothing else is given); after each run it
//   is rescheduled to the next match, 03:00 in Paris. Then it is ended too.
// Persistent series (no `inMemory`) work the same and survive restarts; end
// one with `await TaskQueue.remove({ _id })`. Every process runs this file:
// the master queues the tasks, the workers run them. It exits by itself once
// no series is left.
import { Cluster, TaskQueue } from 'meteor-cluster'

const taskMap = {
  // Each run sees its own occurrence as job.dueDate: the series keeps to a
  // 300 ms grid (a slot missed while busy is skipped, not made up).
  HEARTBEAT: (job) => `beat due at +${job.dueDate.getTime() - job.data.start} ms`,
  NIGHTLY_REPORT: () => 'report sent'
}

const cluster = new Cluster(taskMap, { maxAvailableWorkers: 1, logs: 'error' })

const paris = (date) => date.toLocaleString('en-GB', { timeZone: 'Europe/Paris', dateStyle: 'short', timeStyle: 'short' })

if (Cluster.isMaster()) {
  const start = Date.now()
  let beats = 0
  let heartbeatEnded = false
  let nightlyEnded = false

  TaskQueue.addEventListener('done', ({ value, task }) => {
    if (task._id === 'heartbeat') {
      beats += 1
      console.log(`heartbeat ${beats}: ${value}`)
      if (beats === 3) {
        // Ends the series: removeById gives back the task it removed.
        const removed = TaskQueue.inMemory.removeById('heartbeat')
        console.log(`heartbeat series ended (removed ${removed._id})`)
        heartbeatEnded = true
      }
    } else if (task._id === 'nightlyReport') {
      // After the run, the series is already queued again at its next time.
      const next = TaskQueue.inMemory.findById('nightlyReport')
      console.log(`nightly report: ${value}; next run ${paris(next.dueDate)} (Paris time)`)
      TaskQueue.inMemory.removeById('nightlyReport')
      console.log('nightly report series ended')
      nightlyEnded = true
    }
    if (heartbeatEnded && nightlyEnded) console.log('no series left: exiting')
  })
  TaskQueue.addEventListener('error', ({ value, task }) => console.error(`${task._id} failed: ${value.message}`))

  const heartbeat = { taskType: 'HEARTBEAT', _id: 'heartbeat', data: { start }, inMemory: true, repeat: { every: 300 }, dueDate: new Date(start) }
  const first = await TaskQueue.addTask(heartbeat)
  const again = await TaskQueue.addTask(heartbeat)
  console.log(`added series ${first}; adding it again resolved with ${again} and queued nothing (${TaskQueue.inMemory.tasks().length} task queued)`)

  await TaskQueue.addTask({
    taskType: 'NIGHTLY_REPORT',
    _id: 'nightlyReport',
    inMemory: true,
    priority: -1, // after the first heartbeat, to keep the output in order
    repeat: { cron: '0 3 * * *', tz: 'Europe/Paris' }
  })
}

export { cluster }
