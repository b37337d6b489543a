'use strict'
// The page's HTML shell: no inline script or style (the CSP forbids them);
// the mount path, the CSRF token, the user and the read-only flag travel in
// <meta> tags that the page's script reads. Values are escaped as
// attribute text.

const { version } = require('../../package.json')

function attr (value) {
  return String(value).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function page ({ base, token, user, readOnly, mode }) {
  const meta = (name, content) => `<meta name="mc-${name}" content="${attr(content)}">`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jobs · meteor-cluster</title>
${meta('base', base)}
${meta('csrf', token)}
${meta('user', user || '')}
${meta('read-only', readOnly ? 'true' : 'false')}
${meta('mode', mode)}
${meta('version', version)}
<link rel="icon" href="${attr(base)}/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="${attr(base)}/assets/vendor/uPlot.min.css">
<link rel="stylesheet" href="${attr(base)}/assets/app.css">
<script defer src="${attr(base)}/assets/vendor/uPlot.iife.min.js"></script>
<script defer src="${attr(base)}/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <h1><a id="home" href="#/">meteor-cluster</a></h1>
  <nav aria-label="Views">
    <a href="#/" data-view="overview">Overview</a>
    <a href="#/tasks" data-view="tasks">Tasks</a>
    <a href="#/masters" data-view="masters">Masters</a>
  </nav>
  <p class="status" id="status" role="status" aria-live="polite"></p>
</header>
<main id="main" tabindex="-1"><p class="muted">Loading…</p></main>
<dialog id="confirm" aria-labelledby="confirm-title">
  <form method="dialog">
    <h2 id="confirm-title">Are you sure?</h2>
    <p id="confirm-text"></p>
    <div class="buttons">
      <button value="cancel" type="submit" class="secondary">Go back</button>
      <button value="ok" type="submit" id="confirm-ok" class="danger">Confirm</button>
    </div>
  </form>
</dialog>
<noscript><p>The dashboard needs JavaScript.</p></noscript>
</body>
</html>
`
}

module.exports = { page }
