'use strict';
// Configuration: command-line flags, each with a TALLY_WEB_* environment default (the command
// line wins), like Tally's own binaries. Bad configuration stops the process with one line.
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

// name → [default, help]
const FLAGS = {
  listen_host: ['127.0.0.1', 'address to listen on'],
  port: ['8080', 'HTTP port of the pages'],
  origin: ['', 'the origin browsers see (default http://localhost:<port>); POSTs from any other are refused, and it must be one of the passkey service\'s --rp_origins'],
  directory_id: ['', 'the directory whose users sign in here; empty: the sign-in page asks for it'],
  orchestrator_addr: ['127.0.0.1:50050', 'tally.orchestrator.v1 (logins, sessions)'],
  policy_addr: ['127.0.0.1:50051', 'tally.policy.v1 (directories, settings)'],
  credential_addr: ['127.0.0.1:50052', 'tally.credential.v1 (users)'],
  passkey_addr: ['127.0.0.1:50054', 'tally.passkey.v1 (passkeys)'],
  proto_dir: [path.join(REPO_ROOT, 'proto'), "Tally's proto/ folder, loaded at start-up"],
  googleapis_dir: ['/usr/share/gocode/src/github.com/gogo/googleapis',
    'folder holding google/rpc/*.proto (Debian golang-github-gogo-googleapis-dev), for error details'],
  tls_ca: ['', 'PEM CA file: call Tally over TLS (mutual TLS with --tls_cert and --tls_key)'],
  tls_cert: ['', 'PEM client certificate for mutual TLS'],
  tls_key: ['', 'PEM client key for mutual TLS'],
  rpc_timeout: ['10', 'deadline of each call to Tally, seconds'],
};

function usage() {
  const lines = ['Usage: node server.js [--flag=value ...]', ''];
  for (const [name, [def, help]] of Object.entries(FLAGS)) {
    lines.push(`  --${name}  (env TALLY_WEB_${name.toUpperCase()}, default ${def || 'none'})`);
    lines.push(`      ${help}`);
  }
  return lines.join('\n');
}

function fail(message) {
  process.stderr.write(`tally-web-login: invalid configuration: ${message}\n`);
  process.exit(2);
}

function loadConfig(argv = process.argv.slice(2), env = process.env) {
  const options = { help: { type: 'boolean' } };
  for (const name of Object.keys(FLAGS)) options[name] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    fail(e.message);
  }
  if (parsed.help) {
    process.stdout.write(usage() + '\n');
    process.exit(0);
  }
  const config = {};
  for (const [name, [def]] of Object.entries(FLAGS)) {
    const fromEnv = env[`TALLY_WEB_${name.toUpperCase()}`];
    config[name] = parsed[name] ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : def);
  }
  config.port = Number(config.port);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    fail(`--port must be 0..65535`);
  }
  config.rpc_timeout = Number(config.rpc_timeout);
  if (!(config.rpc_timeout > 0)) fail('--rpc_timeout must be a positive number of seconds');
  if (!config.origin) config.origin = `http://localhost:${config.port}`;
  let origin;
  try {
    origin = new URL(config.origin);
  } catch {
    fail(`--origin ${JSON.stringify(config.origin)} is not a URL`);
  }
  if (origin.origin !== config.origin.replace(/\/$/, '')) {
    fail(`--origin must be scheme://host[:port] only, got ${config.origin}`);
  }
  config.origin = origin.origin;
  config.secure_cookies = origin.protocol === 'https:';
  if (config.directory_id && !/^dir_[A-Za-z0-9_-]+$/.test(config.directory_id)) {
    fail(`--directory_id ${JSON.stringify(config.directory_id)} is not a directory id`);
  }
  if (!fs.existsSync(path.join(config.proto_dir, 'tally'))) {
    fail(`--proto_dir ${config.proto_dir} has no tally/ folder`);
  }
  if ((config.tls_cert || config.tls_key) && !(config.tls_cert && config.tls_key && config.tls_ca)) {
    fail('--tls_cert and --tls_key go together, with --tls_ca');
  }
  for (const name of ['tls_ca', 'tls_cert', 'tls_key']) {
    if (config[name] && !fs.existsSync(config[name])) fail(`--${name}: no file ${config[name]}`);
  }
  return config;
}

module.exports = { loadConfig, usage };
