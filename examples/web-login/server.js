#!/usr/bin/env node
'use strict';
// Tally's example login page and admin portal: `node server.js --help` lists the flags.
const { loadConfig } = require('./src/config');
const { Tally } = require('./src/tally');
const { createApp } = require('./src/app');

const config = loadConfig();
const log = (line) => process.stdout.write(`${new Date().toISOString()} web-login ${line}\n`);
let tally;
try {
  tally = new Tally(config);
} catch (e) {
  process.stderr.write(`tally-web-login: invalid configuration: cannot load the protos in ${config.proto_dir}: ${e.message}\n`);
  process.exit(2);
}
const app = createApp({ config, tally, log });
const server = app.listen(config.port, config.listen_host, () => {
  const { port } = server.address();
  log(`listening on http://${config.listen_host}:${port} for ${config.origin}` +
    (config.directory_id ? `, directory ${config.directory_id}` : ''));
});
server.on('error', (e) => {
  process.stderr.write(`tally-web-login: cannot listen on ${config.listen_host}:${config.port}: ${e.message}\n`);
  process.exit(1);
});

// Graceful stop: finish the requests in flight, then close the gRPC channels.
function stop(signal) {
  log(`${signal}: stopping`);
  server.close(() => {
    tally.close();
    process.exit(0);
  });
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
