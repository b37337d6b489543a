#!/usr/bin/env node
'use strict'
// `meteor-cluster dashboard --mongo-url URL [--collection taskQueue] [--port 4000]
//  [--host 127.0.0.1] [--read-only] [--user U --password P]`: the dashboard
// on its own, from the collection and the masters' registry, with no master.

const { main } = require('../lib/dashboard/cli')

main(process.argv.slice(2)).catch((error) => {
  console.error(`meteor-cluster: ${error.message}`)
  process.exit(2)
})
