#!/usr/bin/env node
// `logferry` on the PATH (npx logferry, /usr/local/bin in the Docker image): the built
// agent's entry point, which runs the agent or a command (check, --help, --version).
import '../dist/src/main.js';
