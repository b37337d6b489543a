// IPC between a running task and the master (upstream's "IPC (advanced
// usage)"), as a plain Node script with in-memory tasks:
// - PING: one exchange. The task sends 'ping', the master's messageBroker
//   answers 'pong', the task's onMessage gets it, and what onMessage returns
//   is the task's result.
// - CHAINED: two exchanges. onMessage returns a second toggleIPC, so the
//   task is done only once the second answer is in.
// - CLOSED: onMessage ends the exchange itself with closeIPC(result).
// A task must return (or await) the Promise toggleIPC gives it, otherwise it
// is done before the answer comes. Every process runs this file: the master
// queues the tasks, the workers run them. It exits by itself when done.
import { Cluster, TaskQueue } from 'meteor-cluster'

const taskMap = {
  PING: (job, toggleIPC) => toggleIPC(
    (reply) => `worker got ${reply}`,
    (sendMessageToMaster) => sendMessageToMaster({ status: 4, data: 'ping' })
  ),

  CHAINED: (job, toggleIPC) => toggleIPC(
    (first) => toggleIPC(
      (second) => [first, second],
      (sendMessageToMaster) => sendMessageToMaster({ status: 5, data: 'again' })
    ),
    (sendMessageToMaster) => sendMessageToMaster({ status: 4, data: 'ping' })
  ),

  CLOSED: (job, toggleIPC) => toggleIPC(
    (reply, closeIPC) => closeIPC({ answer: reply }),
    (sendMessageToMaster) => sendMessageToMaster({ status: 6, data: job.data.question })
  )
}

// The master's side of IPC: every message a task sends comes here, with the
// id of the worker it came from (msg.id, an array, as upstream's). respond()
// sends the answer back to that task.
function messageBroker (respond, msg) {
  console.log(`master got ${JSON.stringify(msg.data)} (status ${msg.status}) from worker ${msg.id[0]}`)
  if (msg.data === 'ping') respond('pong')
  else if (msg.data === 'again') respond('pong again')
  else respond(`the answer to "${msg.data}" is 42`)
}

const cluster = new Cluster(taskMap, { maxAvailableWorkers: 1, messageBroker, logs: 'error' })

if (Cluster.isMaster()) {
  TaskQueue.addEventListener('done', ({ value, task }) => console.log(`${task.taskType} done: ${JSON.stringify(value)}`))
  TaskQueue.addEventListener('error', ({ value, task }) => console.error(`${task.taskType} failed: ${value.message}`))

  // Priorities keep the output in this order (one worker runs them in turn).
  TaskQueue.addTask({ taskType: 'PING', priority: 3, inMemory: true })
  TaskQueue.addTask({ taskType: 'CHAINED', priority: 2, inMemory: true })
  TaskQueue.addTask({ taskType: 'CLOSED', priority: 1, data: { question: 'life' }, inMemory: true })
}

export { cluster }
