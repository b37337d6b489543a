'use strict'
// What meteor-cluster does differently inside a Meteor server, found through
// the `Package` global Meteor defines: run user callbacks inside Meteor's
// environment (fibers on Meteor 2, so synchronous Meteor calls work in them,
// as they did with upstream), and know when the app has started.

function meteorPackage (name, symbol) {
  const pkg = globalThis.Package && globalThis.Package[name]
  return (pkg && pkg[symbol]) || null
}

/**
 * `fn(arg)` run inside Meteor's environment when there is one (a Promise of
 * its result then), or called directly.
 */
function runInMeteor (fn, arg) {
  const Meteor = meteorPackage('meteor', 'Meteor')
  if (Meteor === null || typeof Meteor.bindEnvironment !== 'function') return fn(arg)
  return new Promise((resolve, reject) => {
    // bindEnvironment drops the return value and logs exceptions itself
    // (when it makes a fiber): take both from inside instead.
    Meteor.bindEnvironment(() => {
      try {
        resolve(fn(arg))
      } catch (error) {
        reject(error)
      }
    })()
  })
}

/**
 * Calls `ready` once the app has started: in a Meteor server, when its web
 * server listens (after every `Meteor.startup` hook), as upstream waited for
 * a worker's `listening`; elsewhere at once.
 */
function whenAppStarted (ready) {
  const WebApp = meteorPackage('webapp', 'WebApp')
  if (WebApp !== null && typeof WebApp.onListening === 'function') return WebApp.onListening(ready)
  const Meteor = meteorPackage('meteor', 'Meteor')
  if (Meteor !== null && typeof Meteor.startup === 'function') return Meteor.startup(ready)
  ready()
}

module.exports = { runInMeteor, whenAppStarted }
