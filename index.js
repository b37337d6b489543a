'use strict'
// meteor-cluster: a drop-in replacement for the Meteor package
// nschwarz:cluster. This file only gathers the public API.

const Cluster = require('./lib/cluster')
const TaskQueue = require('./lib/task-queue')
const ObjectId = require('./lib/object-id')
const Decimal128 = require('./lib/decimal128')

module.exports = { Cluster, TaskQueue, ObjectId, Decimal128 }
