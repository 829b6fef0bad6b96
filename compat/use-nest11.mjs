// Rewrites a copy of this repository's package.json to develop against Nest 11: the @nestjs/*
// framework packages at ^11 (the ecosystem packages stay as they are). Used by run-nest11.sh.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
const pkg = JSON.parse(readFileSync(file, 'utf8'));
const FRAMEWORK = [
  '@nestjs/common',
  '@nestjs/core',
  '@nestjs/platform-express',
  '@nestjs/platform-fastify',
  '@nestjs/testing',
  '@nestjs/websockets',
  '@nestjs/platform-ws',
  '@nestjs/platform-socket.io',
];
for (const name of FRAMEWORK) {
  if (pkg.devDependencies[name] === undefined) throw new Error(`${name} is not a dev dependency`);
  pkg.devDependencies[name] = '^11.0.1';
}
writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
console.log(`${file}: ${FRAMEWORK.join(', ')} at ^11.0.1`);
