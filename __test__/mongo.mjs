// The database for persistent-queue tests: MONGO_URL when set (a real
// mongod), else a SecantusDB server started for the test file. Each test
// gets a database of its own.
import { MongoClient } from 'mongodb'
import { startServer } from '../scripts/mongo-server.mjs'

let server = null
let counter = 0

/** Starts (or reuses) the server; call from `before`. */
export async function setup () {
  if (!process.env.MONGO_URL) server = await startServer()
}

export async function teardown () {
  if (server) await server.dispose()
  server = null
}

/** A fresh database URL on the server. */
export function freshUrl () {
  const base = process.env.MONGO_URL || server.url
  const url = new URL(base)
  url.pathname = `/mc_test_${process.pid}_${Date.now()}_${counter++}`
  return url.toString()
}

/** Runs `fn(db)` with a driver connection to `url`'s database. */
export async function withDb (url, fn) {
  const client = new MongoClient(url)
  await client.connect()
  try {
    return await fn(client.db())
  } finally {
    await client.close()
  }
}

/** A server of the test's own, for stopping and restarting it. */
export { startServer }
