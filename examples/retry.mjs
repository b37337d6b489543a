// Retries with exponential backoff, in memory (no MongoDB needed). The
// master runs a small HTTP "payment service" on a free local port that
// answers 503 to the first requests for an order, as flaky services do. The
// CHARGE task calls it and throws on a 503:
// - order A, with the Cluster's default `retry` (2 retries, exponential
//   backoff from 200 ms), is refused twice, then accepted: two `retry`
//   events (attempts 1 and 2, the next attempt 200 ms later, then 400 ms),
//   then `done` with the third attempt's result;
// - order B, with its own `retry` (1 retry after 100 ms), is refused every
//   time: one `retry` event, then `error`, once, with the last attempt's
//   error.
// Each failed attempt is also logged on stderr. Every process runs this
// file: the master queues the tasks, the workers run them. It exits by
// itself when both orders are settled.
import { Cluster, TaskQueue } from 'meteor-cluster'
import http from 'node:http'

function post (port, order) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: `/charge/${order}` }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode, body }))
    })
    request.on('error', reject)
    request.end()
  })
}

const taskMap = {
  CHARGE: async (job) => {
    const { status, body } = await post(job.data.port, job.data.order)
    if (status !== 200) throw new Error(`payment service answered ${status}: ${body}`)
    return body
  }
}

// `retry` here is the default for every task; a task's own `retry` wins.
// Exponential backoff waits delay x 2^(attempt - 1): 200 ms, then 400 ms.
const retry = { limit: 2, delay: 200, backoff: 'exponential' }
const cluster = new Cluster(taskMap, { maxAvailableWorkers: 1, logs: 'error', retry })

if (Cluster.isMaster()) {
  // The flaky service: order A fails twice, order B always.
  const calls = {}
  const failuresBeforeSuccess = { A: 2, B: Infinity }
  const service = http.createServer((req, res) => {
    const order = req.url.split('/').pop()
    calls[order] = (calls[order] || 0) + 1
    if (calls[order] <= failuresBeforeSuccess[order]) {
      res.statusCode = 503
      res.end('try again later')
    } else {
      res.end(`order ${order} charged on call ${calls[order]}`)
    }
  })
  await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve))
  const { port } = service.address()

  let settled = 0
  const settle = () => {
    if (++settled === 2) service.close() // nothing left: the script exits
  }

  TaskQueue.addEventListener('retry', ({ value, task, attempt, nextRunAt }) => {
    const inMs = Math.max(0, Math.round((nextRunAt.getTime() - Date.now()) / 100) * 100)
    console.log(`order ${task.data.order}: attempt ${attempt} failed (${value.message}); next attempt in about ${inMs} ms`)
  })
  TaskQueue.addEventListener('done', ({ value, task }) => {
    console.log(`order ${task.data.order}: done: ${value}`)
    settle()
  })
  TaskQueue.addEventListener('error', ({ value, task }) => {
    console.log(`order ${task.data.order}: failed for good: ${value.message}`)
    settle()
  })

  await TaskQueue.addTask({ taskType: 'CHARGE', data: { order: 'A', port }, inMemory: true })
  await TaskQueue.addTask({ taskType: 'CHARGE', data: { order: 'B', port }, inMemory: true, retry: { limit: 1, delay: 100 } })
}

export { cluster }
