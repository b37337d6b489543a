'use strict'
// meteor-cluster: a drop-in replacement for the Meteor package
// nschwarz:cluster. This file only gathers the public API.

const Cluster = require('./lib/cluster')
const TaskQueue = require('./lib/task-queue')

module.exports = { Cluster, TaskQueue }
