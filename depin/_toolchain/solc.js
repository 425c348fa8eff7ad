#!/usr/bin/env node
// A `solc` command line for the calls py-solc-x and ape-solidity make, backed by solcjs (the
// official compiler built to wasm). Native solc builds cannot be downloaded everywhere; the npm
// package can. Supports: --version, --standard-json (stdin -> stdout), --base-path,
// --include-path, --allow-paths, `-`, and `prefix=path` remappings.
'use strict';
const fs = require('fs');
const path = require('path');

const SOLC_MODULE = process.env.DEPIN_SOLCJS_MODULE || '__SOLCJS_MODULE__';
const NODE_MODULES = process.env.DEPIN_NODE_MODULES || '__NODE_MODULES__';
const solc = require(SOLC_MODULE);

const args = process.argv.slice(2);
let basePath = null;
const includePaths = [];
const remappings = [];
let standardJson = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--version' || a === '-v') {
    const v = solc.version();
    process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + v + '\n');
    process.exit(0);
  } else if (a === '--standard-json') {
    standardJson = true;
  } else if (a === '--base-path') {
    basePath = args[++i];
  } else if (a === '--include-path') {
    includePaths.push(args[++i]);
  } else if (a === '--allow-paths') {
    i++;
  } else if (a.startsWith('--base-path=')) {
    basePath = a.slice('--base-path='.length);
  } else if (a.startsWith('--include-path=')) {
    includePaths.push(a.slice('--include-path='.length));
  } else if (a === '-') {
    // stdin, implied by --standard-json
  } else if (!a.startsWith('-') && a.includes('=')) {
    remappings.push(a);
  }
}
if (!standardJson) {
  process.stderr.write('solcjs wrapper: only --version and --standard-json are supported\n');
  process.exit(1);
}

const roots = [];
if (basePath) roots.push(basePath);
roots.push(...includePaths, process.cwd(), NODE_MODULES);

function findImports(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((r) => path.resolve(r, importPath));
  for (const c of candidates) {
    try {
      return { contents: fs.readFileSync(c, 'utf8') };
    } catch (e) {
      // try the next root
    }
  }
  return { error: 'File not found: ' + importPath + ' (searched ' + roots.join(', ') + ')' };
}

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
input.settings = input.settings || {};
if (remappings.length) {
  input.settings.remappings = [...(input.settings.remappings || []), ...remappings];
}
for (const [name, src] of Object.entries(input.sources || {})) {
  if (src.content === undefined && Array.isArray(src.urls)) {
    for (const u of src.urls) {
      const found = findImports(u);
      if (found.contents !== undefined) {
        src.content = found.contents;
        delete src.urls;
        break;
      }
    }
    if (src.content === undefined) {
      const found = findImports(name);
      if (found.contents !== undefined) {
        src.content = found.contents;
        delete src.urls;
      }
    }
  }
}
process.stdout.write(solc.compile(JSON.stringify(input), { import: findImports }));
