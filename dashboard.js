'use strict'
// meteor-cluster/dashboard (CommonJS): `const { dashboard } = require('meteor-cluster/dashboard')`.
module.exports = require('./lib/dashboard')
